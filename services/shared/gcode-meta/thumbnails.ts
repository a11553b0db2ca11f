/**
 * Thumbnails slicers embed as base64 comment blocks, read one line at a time:
 *   ; thumbnail begin 220x124 5432          PrusaSlicer / SuperSlicer / OrcaSlicer (PNG)
 *   ; thumbnail_JPG begin 220x124 5432      PrusaSlicer's "thumbnails_format = JPG" (and _QOI)
 *   ; thumbnail begin 32 32 5432            Cura's "Create Thumbnail" post-processing script
 *   ; <up to 78 base64 characters>
 *   ; thumbnail end
 * The number after the size is the length of the base64 text. Only one candidate (the largest PNG or
 * JPG that decodes and starts with its format's signature) is kept, and all blocks together may hold
 * at most MAX_THUMBNAIL_BASE64 characters, so a hostile file cannot make this grow. No Node imports.
 */

export type ThumbnailFormat = 'png' | 'jpg' | 'qoi';

export interface Thumbnail { format: ThumbnailFormat; width: number; height: number; base64: string }

/** Base64 text of all thumbnails of one file together (≈ 1 MB of images). */
export const MAX_THUMBNAIL_BASE64 = 1_400_000;

const BEGIN = /^;\s*thumbnail(?:_(PNG|JPG|QOI))?\s+begin\s+(\d{1,5})\s*[x ]\s*(\d{1,5})\s+(\d{1,9})\s*$/i;
const END = /^;\s*thumbnail(?:_(?:PNG|JPG|QOI))?\s+end\s*$/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

interface Open { format: ThumbnailFormat; width: number; height: number; declared: number; parts: string[]; length: number }

export class ThumbnailCollector {
  private open: Open | null = null;
  private used = 0;
  private best: Thumbnail | null = null;
  /** Blocks that were dropped (bad length, bad base64, wrong signature, over the cap). */
  rejected = 0;

  /** Feeds one comment line (starting with ';'); returns true when the line belonged to a thumbnail block. */
  line(text: string): boolean {
    const begin = BEGIN.exec(text);
    if (begin) { this.start(begin); return true; }
    if (!this.open) return false;
    if (END.test(text)) { this.finish(); return true; }
    this.data(text.slice(1).trim());
    return true;
  }

  /** The best thumbnail seen; a block still open (a truncated file) is dropped. */
  result(): Thumbnail | null {
    if (this.open) { this.open = null; this.rejected++; }
    return this.best;
  }

  private start(m: RegExpExecArray): void {
    if (this.open) this.rejected++; // a begin without end: the earlier block is incomplete
    const declared = Number(m[4]);
    // Decline up front what cannot fit: nothing of it is buffered.
    if (this.used + declared > MAX_THUMBNAIL_BASE64) { this.open = null; this.rejected++; return; }
    const format = (m[1]?.toLowerCase() ?? 'png') as ThumbnailFormat;
    this.open = { format, width: Number(m[2]), height: Number(m[3]), declared, parts: [], length: 0 };
    this.used += declared;
  }

  private data(chunk: string): void {
    const o = this.open!;
    o.length += chunk.length;
    // More text than declared: the header lied; stop buffering at once instead of at the end marker.
    if (o.length > o.declared || !BASE64.test(chunk)) { this.open = null; this.rejected++; return; }
    o.parts.push(chunk);
  }

  private finish(): void {
    const o = this.open!;
    this.open = null;
    const base64 = o.parts.join('');
    if (base64.length !== o.declared || !signatureOk(o.format, base64)) { this.rejected++; return; }
    // Browsers cannot show QOI; a QOI-only file has no thumbnail to serve.
    if (o.format === 'qoi') return;
    if (!this.best || o.width * o.height > this.best.width * this.best.height
      || (o.width * o.height === this.best.width * this.best.height && o.format === 'png' && this.best.format !== 'png')) {
      this.best = { format: o.format, width: o.width, height: o.height, base64 };
    }
  }
}

const SIGNATURES: Record<ThumbnailFormat, string> = { png: '\x89PNG\r\n\x1a\n', jpg: '\xff\xd8\xff', qoi: 'qoif' };

/** Decodes the whole text (catches bad padding anywhere) and checks the image starts as its format says. */
function signatureOk(format: ThumbnailFormat, base64: string): boolean {
  if (base64.length % 4 !== 0) return false;
  try {
    return atob(base64).startsWith(SIGNATURES[format]);
  } catch {
    return false;
  }
}
