/** A chat-completions request body of exactly `bytes` bytes (UTF-8), naming `model`. */
export function jsonBody(bytes: number, model = 'bench-model'): string {
  const skeleton = JSON.stringify({ model, messages: [{ role: 'user', content: '' }] });
  if (bytes < skeleton.length) throw new RangeError(`jsonBody: ${bytes} bytes is below the ${skeleton.length} needed`);
  return JSON.stringify({ model, messages: [{ role: 'user', content: 'x'.repeat(bytes - skeleton.length) }] });
}

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** `1 KiB`, `256 KiB`, `8 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes >= MiB) return `${+(bytes / MiB).toFixed(1)} MiB`;
  if (bytes >= KiB) return `${+(bytes / KiB).toFixed(1)} KiB`;
  return `${bytes} B`;
}
