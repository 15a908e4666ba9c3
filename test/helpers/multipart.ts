export const BOUNDARY = '----indomain-test-boundary';

/** A multipart/form-data body with optional `name` and `file` parts. */
export function multipart(name: string | undefined, file?: { filename: string; content: Buffer }): Buffer {
  const parts: Buffer[] = [];
  if (name !== undefined) parts.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="name"\r\n\r\n${name}\r\n`));
  if (file) {
    parts.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${file.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`));
    parts.push(file.content, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(parts);
}
