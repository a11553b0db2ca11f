/**
 * Counts the parts of a multipart MJPEG stream as its chunks arrive. Each frame leaves ustreamer in one
 * write, but TCP or a TLS record may split it anywhere, the boundary marker included: count markers across
 * chunk edges, not chunks.
 */
export function mjpegPartCounter(boundary: string): { feed(chunk: Buffer): void; readonly parts: number } {
  const marker = `--${boundary}`;
  let tail = '';
  let parts = 0;
  return {
    feed(chunk) {
      const text = tail + chunk.toString('latin1');
      parts += text.split(marker).length - 1;
      tail = text.slice(-(marker.length - 1));
    },
    get parts() { return parts; },
  };
}
