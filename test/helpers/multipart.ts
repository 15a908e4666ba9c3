export const BOUNDARY = '----indomain-test-boundary';

/** A multipart/form-data body with optional `name` and `file` parts. */
export function multipart(name: string | undefined, file?: { filename: string; content: Buffer }): Buffer {
  return multipartForm(name === undefined ? {} : { name }, file);
}

/** A multipart/form-data body with text fields and an optional `file` part. */
export function multipartForm(fields: Record<string, string>, file?: { filename: string; content: Buffer }): Buffer {
  const parts: Buffer[] = [];
  for (const [field, value] of Object.entries(fields)) parts.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${field}"\r\n\r\n${value}\r\n`));
  if (file) {
    parts.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${file.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`));
    parts.push(file.content, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(parts);
}
