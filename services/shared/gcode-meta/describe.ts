/**
 * File metadata from one streaming pass over a G-code file: what the slicer wrote (slicers.ts), the
 * largest embedded thumbnail (thumbnails.ts), and an estimate from the moves where the slicer gave
 * none (estimate.ts). Fed by the upload check line by line (services/shared/files.ts GcodeCheck), so
 * the file is read once. Metadata is a convenience: nothing here ever throws — a broken header only
 * leaves fields null, it never fails an upload. No Node imports (the UI imports the types).
 */
import { MoveEstimator } from './estimate.ts';
import { SlicerComments } from './slicers.ts';
import { ThumbnailCollector, type Thumbnail } from './thumbnails.ts';

/** GET /api/files items carry this as `metadata`; a field is null when the file does not say (or it was not read yet). */
export interface FileMetadata {
  slicer: string | null;
  slicer_version: string | null;
  /** Seconds; from the slicer when it wrote one, else computed from the moves (estimate_source). */
  estimated_time_s: number | null;
  estimate_source: 'slicer' | 'computed' | null;
  filament_used_mm: number | null;
  filament_used_g: number | null;
  layer_height_mm: number | null;
  first_layer_height_mm: number | null;
  nozzle_diameter_mm: number | null;
  object_count: number | null;
  /** The embedded image GET /api/files/<name>/thumbnail serves. */
  thumbnail: { width: number; height: number; format: 'png' | 'jpg' } | null;
}

export const EMPTY_METADATA: FileMetadata = {
  slicer: null, slicer_version: null, estimated_time_s: null, estimate_source: null, filament_used_mm: null,
  filament_used_g: null, layer_height_mm: null, first_layer_height_mm: null, nozzle_diameter_mm: null, object_count: null, thumbnail: null,
};

export interface Description { metadata: FileMetadata; thumbnail: Thumbnail | null; computedTimeS: number | null }

const round = (n: number | null, digits: number) => (n === null || !Number.isFinite(n) ? null : Math.round(n * 10 ** digits) / 10 ** digits);

export class GcodeDescriber {
  private comments = new SlicerComments();
  private thumbs = new ThumbnailCollector();
  private moves = new MoveEstimator();
  private broken = false;

  /** One line of the file, line ending removed, as a latin1 string. */
  line(line: string): void {
    if (this.broken) return;
    try {
      const first = line.charCodeAt(0);
      const text = first === 0x20 || first === 0x09 ? line.trimStart() : line;
      if (text.charCodeAt(0) === 0x3b) { // ';'
        if (!this.thumbs.line(text)) this.comments.comment(text);
        return;
      }
      const semi = text.indexOf(';');
      const cmd = semi >= 0 ? text.slice(0, semi).trimEnd() : text;
      if (!cmd) return;
      this.moves.command(cmd);
      if ((cmd.charCodeAt(0) | 0x20) === 0x6d && /^M486\s/i.test(cmd)) { const t = /T\s*(\d+)/i.exec(cmd); if (t) this.comments.declareObjects(Number(t[1])); }
    } catch {
      // A bug in an optional feature must not cost the upload; what was read so far still counts.
      this.broken = true;
    }
  }

  result(): Description {
    try {
      const s = this.comments.result();
      const m = this.moves.result();
      const thumbnail = this.thumbs.result();
      const computed = m.seconds > 0 ? Math.round(m.seconds) : null;
      const time = s.timeS ?? computed;
      return {
        metadata: {
          slicer: s.slicer, slicer_version: s.slicerVersion,
          estimated_time_s: round(time, 0), estimate_source: s.timeS !== null ? 'slicer' : computed !== null ? 'computed' : null,
          filament_used_mm: round(s.filamentMm ?? (m.filamentMm > 0 ? m.filamentMm : null), 2), filament_used_g: round(s.filamentG, 2),
          layer_height_mm: round(s.layerHeightMm, 3), first_layer_height_mm: round(s.firstLayerHeightMm ?? this.moves.firstLayerZ, 3),
          nozzle_diameter_mm: round(s.nozzleDiameterMm, 3), object_count: s.objectCount,
          thumbnail: thumbnail ? { width: thumbnail.width, height: thumbnail.height, format: thumbnail.format as 'png' | 'jpg' } : null,
        },
        thumbnail,
        computedTimeS: computed,
      };
    } catch {
      return { metadata: { ...EMPTY_METADATA }, thumbnail: null, computedTimeS: null };
    }
  }
}
