/** Wire types shared with the services (type-only: nothing from services/ ends up in the bundle). */
export type { PrinterInfo, JobInfo, HistoryEntry, Temperatures, Temperature, PrinterState, JobState, PrinterProfile, HostPrompt, JobEvent } from '../../../services/shared/ipc.ts';

/** GET /api/macros (services/web/control/macros.ts). */
export interface Macro { name: string; description: string; gcode: string; permission: string; whilePrinting: boolean }

export interface Session { user: string; method: 'pam' | 'cloud' | 'local' | 'apikey'; role: string }

/** GET /api/cloud; "firstboot" is the linker's last result. */
export interface CloudStatus {
  state: 'unlinked' | 'linked' | 'offline';
  owner?: { id?: string; email?: string } | string;
  cloud_url?: string;
  firstboot?: Record<string, unknown> | null;
  [k: string]: unknown;
}

export type { FileMetadata } from '../../../services/shared/gcode-meta/describe.ts';
import type { FileMetadata } from '../../../services/shared/gcode-meta/describe.ts';

/**
 * GET /api/files (services/shared/files.ts): lines is -1 when not counted for a listing; metadata is
 * what the slicer embedded (fields null when unknown or not read yet).
 */
export interface FileInfo { name: string; size: number; lines?: number; modified?: string; metadata?: FileMetadata }
