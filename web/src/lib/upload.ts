/**
 * Multipart upload with progress. fetch() cannot report upload progress, XMLHttpRequest can
 * (xhr.upload.onprogress), which drives the files screen's progress bar.
 */
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
