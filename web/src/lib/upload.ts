/**
 * Multipart upload with progress. fetch() cannot report upload progress, XMLHttpRequest can
 * (xhr.upload.onprogress), which drives the files screen's progress bar.
 */
import { GCODE_EXTENSIONS } from '../../../services/shared/gcode-names.ts';
import { ApiError, errorFrom } from './api.ts';

export interface UploadResult { name: string; size: number; lines?: number }

export function uploadFile(file: File, onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<UploadResult> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/files');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = async () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        try { resolve(JSON.parse(xhr.responseText) as UploadResult); } catch { resolve({ name: file.name, size: file.size }); }
      } else {
        reject(await errorFrom(xhr.status, xhr.responseText, xhr.getResponseHeader('Retry-After')));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'Upload failed: the connection was lost.'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'Upload cancelled.'));
    signal?.addEventListener('abort', () => xhr.abort());
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
}

/**
 * The wrong kind of file, told before a byte is sent: a dropped 80 MB model would otherwise upload in
 * full over Wi-Fi only to be refused. `head` is the start of the file (64 KiB is plenty). The names follow
 * the server's rule (services/shared/gcode-names.ts); the server still checks every line.
 */
export function notGcode(name: string, head: Uint8Array): string | null {
  if (/\.bgcode$/i.test(name)) {
    return `${name} is binary G-code (PrusaSlicer's .bgcode), which PrintBox cannot send to a printer. In PrusaSlicer, turn off "Supports binary G-code" (Printer Settings → General) and export again.`;
  }
  if (/\.(stl|3mf|obj|amf|step|stp)$/i.test(name)) return `${name} is a 3D model, not G-code. Slice it first (PrusaSlicer, Cura, OrcaSlicer…) and upload the .gcode file.`;
  if (!GCODE_EXTENSIONS.test(name)) return `${name} is not a G-code file: PrintBox takes .gcode, .gco and .g files.`;
  if (head.includes(0)) return `${name} is not G-code text: it contains binary data.`;
  return null;
}
