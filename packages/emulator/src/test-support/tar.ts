// Reads a tar file back with tar-stream's extract, for checking archives in tests.
import { createReadStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";

export interface TarMember {
  name: string;
  type: string;
  content: Buffer;
}

export async function readTarMembers(file: string): Promise<TarMember[]> {
  const members: TarMember[] = [];
  const extract = tar.extract();
  extract.on("entry", (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: unknown) => chunks.push(chunk as Buffer));
    stream.on("end", () => {
      members.push({ name: header.name, type: String(header.type), content: Buffer.concat(chunks) });
      next();
    });
    stream.on("error", next);
  });
  await pipeline(createReadStream(file), extract);
  return members;
}
