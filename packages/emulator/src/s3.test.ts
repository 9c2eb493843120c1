import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_CREDENTIALS } from "./config.js";
import { type RunningEmulator, startEmulator } from "./server.js";

let dir: string;
let emulator: RunningEmulator;

function client(
  secretAccessKey: string = DEMO_CREDENTIALS.secretKey,
  accessKeyId: string = DEMO_CREDENTIALS.accessKey,
): S3Client {
  return new S3Client({
    region: "cn-north-4",
    endpoint: emulator.url,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
  });
}

async function failure(promise: Promise<unknown>): Promise<S3ServiceException> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof S3ServiceException) return error;
    throw error;
  }
  throw new Error("expected the request to fail");
}

const KEYS = 1205;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cph-s3-"));
  mkdirSync(join(dir, "backups", "runs", "a"), { recursive: true });
  for (let n = 0; n < KEYS; n++)
    writeFileSync(join(dir, "backups", "runs", "a", `${String(n).padStart(5, "0")}.tar`), `archive ${n}`);
  mkdirSync(join(dir, "backups", "other"), { recursive: true });
  writeFileSync(join(dir, "backups", "other", "x y+ü.tar"), "spaces and unicode");
  // A file being written (see archive.ts) is not an object yet.
  writeFileSync(join(dir, "backups", "runs", "a", "00001.tar.abcdef012345.partial"), "half");
  utimesSync(
    join(dir, "backups", "runs", "a", "00000.tar"),
    new Date("2026-01-02T03:04:05Z"),
    new Date("2026-01-02T03:04:05Z"),
  );
  mkdirSync(join(dir, "empty-bucket"));
  emulator = await startEmulator({ dataDir: dir });
});

afterAll(async () => {
  await emulator?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("emulator S3 subset, with the official S3 client unchanged", () => {
  it("HEAD and GET an object: size, md5 ETag, file time", async () => {
    const s3 = client();
    const head = await s3.send(new HeadObjectCommand({ Bucket: "backups", Key: "runs/a/00000.tar" }));
    expect(head.ContentLength).toBe("archive 0".length);
    expect(head.ETag).toBe(`"${createHash("md5").update("archive 0").digest("hex")}"`);
    expect(head.LastModified?.toISOString()).toBe("2026-01-02T03:04:05.000Z");
    const got = await s3.send(new GetObjectCommand({ Bucket: "backups", Key: "other/x y+ü.tar" }));
    expect(await got.Body?.transformToString()).toBe("spaces and unicode");
  });

  it("answers a missing key 404 NotFound on HEAD and NoSuchKey on GET, a missing bucket NoSuchBucket", async () => {
    const s3 = client();
    const head = await failure(s3.send(new HeadObjectCommand({ Bucket: "backups", Key: "runs/a/nope.tar" })));
    expect(head.$metadata.httpStatusCode).toBe(404);
    const partial = await failure(
      s3.send(new HeadObjectCommand({ Bucket: "backups", Key: "runs/a/00001.tar.abcdef012345.partial" })),
    );
    expect(partial.$metadata.httpStatusCode).toBe(404);
    const get = await failure(s3.send(new GetObjectCommand({ Bucket: "backups", Key: "runs/a/nope.tar" })));
    expect(get.name).toBe("NoSuchKey");
    const bucket = await failure(s3.send(new ListObjectsV2Command({ Bucket: "no-such-bucket" })));
    expect(bucket.name).toBe("NoSuchBucket");
  });

  it("lists with prefix and continuation tokens: every key once, in order, 1000 a page", async () => {
    const s3 = client();
    const keys: string[] = [];
    const pages: number[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: "backups", Prefix: "runs/a/", ContinuationToken: token }),
      );
      pages.push(page.KeyCount ?? 0);
      for (const object of page.Contents ?? []) keys.push(object.Key!);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    expect(pages).toEqual([1000, KEYS - 1000]);
    expect(keys).toEqual(Array.from({ length: KEYS }, (_, n) => `runs/a/${String(n).padStart(5, "0")}.tar`));
    const small = await s3.send(
      new ListObjectsV2Command({ Bucket: "backups", Prefix: "runs/a/0000", MaxKeys: 3 }),
    );
    expect(small.Contents?.map((object) => [object.Key, object.Size])).toEqual([
      ["runs/a/00000.tar", 9],
      ["runs/a/00001.tar", 9],
      ["runs/a/00002.tar", 9],
    ]);
    expect(small.IsTruncated).toBe(true);
    const all = await s3.send(new ListObjectsV2Command({ Bucket: "backups", Prefix: "other/" }));
    expect(all.Contents?.map((object) => object.Key)).toEqual(["other/x y+ü.tar"]);
    const empty = await s3.send(new ListObjectsV2Command({ Bucket: "empty-bucket" }));
    expect(empty.KeyCount).toBe(0);
    expect(empty.Contents ?? []).toEqual([]);
  });

  it("refuses a request signed with a wrong secret key: 403 SignatureDoesNotMatch", async () => {
    const wrong = client("not-the-emulator-secret-key");
    const error = await failure(
      wrong.send(new HeadObjectCommand({ Bucket: "backups", Key: "runs/a/00000.tar" })),
    );
    expect(error.$metadata.httpStatusCode).toBe(403);
    const listed = await failure(wrong.send(new ListObjectsV2Command({ Bucket: "backups" })));
    expect(listed.name).toBe("SignatureDoesNotMatch");
    expect(listed.$metadata.httpStatusCode).toBe(403);
    const unknown = await failure(
      client(DEMO_CREDENTIALS.secretKey, "UNKNOWNACCESSKEY0001").send(
        new ListObjectsV2Command({ Bucket: "backups" }),
      ),
    );
    expect(unknown.name).toBe("InvalidAccessKeyId");
  });

  it("refuses an unsigned request, and a signature made for another path", async () => {
    const anonymous = await fetch(`${emulator.url}/backups/runs/a/00000.tar`);
    expect(anonymous.status).toBe(403);
    expect(await anonymous.text()).toContain("<Code>AccessDenied</Code>");
    // Sign a HEAD of one key, send it for another: the signature covers the path.
    const s3 = client();
    let captured: Record<string, string> | undefined;
    s3.middlewareStack.add(
      (next) => async (args) => {
        captured = { ...(args.request as { headers: Record<string, string> }).headers };
        return next(args);
      },
      { step: "finalizeRequest", priority: "low" },
    );
    await s3.send(new HeadObjectCommand({ Bucket: "backups", Key: "runs/a/00000.tar" }));
    const { host: _host, ...headers } = captured!;
    const moved = await fetch(`${emulator.url}/backups/runs/a/00002.tar`, { method: "GET", headers });
    expect(moved.status).toBe(403);
    expect(await moved.text()).toContain("<Code>SignatureDoesNotMatch</Code>");
  });
});

/** Huawei's own OBS SDK: it signs V2 (`AWS AK:sig`) on a path-style endpoint and lists with ListObjects v1. */
describe("emulator S3 subset, with esdk-obs-nodejs unchanged", () => {
  interface ObsAnswer {
    CommonMsg: { Status: number; Code: string };
    InterfaceResult?: Record<string, unknown> | null;
  }
  type ObsClient = {
    getObjectMetadata(input: Record<string, unknown>): Promise<ObsAnswer>;
    listObjects(input: Record<string, unknown>): Promise<ObsAnswer>;
    close(): void;
  };

  async function obsClient(secretKey: string = DEMO_CREDENTIALS.secretKey): Promise<ObsClient> {
    const { createRequire } = await import("node:module");
    const ObsClientClass = createRequire(import.meta.url)("esdk-obs-nodejs") as new (
      options: Record<string, unknown>,
    ) => ObsClient;
    const obs = new ObsClientClass({
      access_key_id: DEMO_CREDENTIALS.accessKey,
      secret_access_key: secretKey,
      server: emulator.url,
      signature: "v4",
      region: "cn-north-4",
      path_style: true,
      is_signature_negotiation: false,
      max_retry_count: 0,
    });
    // Its constructor finishes setting up asynchronously (an un-awaited async init).
    await new Promise((resolve) => setTimeout(resolve, 20));
    return obs;
  }

  it("reads an object's metadata and pages a listing with markers", async () => {
    const obs = await obsClient();
    try {
      const head = await obs.getObjectMetadata({ Bucket: "backups", Key: "runs/a/00000.tar" });
      expect(head.CommonMsg.Status).toBe(200);
      expect(head.InterfaceResult).toMatchObject({
        ContentLength: "9",
        ETag: `"${createHash("md5").update("archive 0").digest("hex")}"`,
      });
      const missing = await obs.getObjectMetadata({ Bucket: "backups", Key: "runs/a/nope.tar" });
      expect(missing.CommonMsg.Status).toBe(404);
      const keys: string[] = [];
      let marker: string | undefined;
      for (;;) {
        const page = await obs.listObjects({ Bucket: "backups", Prefix: "runs/a/", Marker: marker });
        expect(page.CommonMsg.Status).toBe(200);
        const result = page.InterfaceResult as {
          Contents: Array<{ Key: string }>;
          IsTruncated: string;
          NextMarker: string;
        };
        keys.push(...result.Contents.map((object) => object.Key));
        if (result.IsTruncated !== "true") break;
        marker = result.NextMarker;
      }
      expect(keys).toEqual(
        Array.from({ length: KEYS }, (_, n) => `runs/a/${String(n).padStart(5, "0")}.tar`),
      );
    } finally {
      obs.close();
    }
  });

  it("refuses its requests signed with a wrong secret key: 403 SignatureDoesNotMatch", async () => {
    const obs = await obsClient("not-the-emulator-secret-key");
    try {
      const listed = await obs.listObjects({ Bucket: "backups", Prefix: "runs/" });
      expect(listed.CommonMsg).toMatchObject({ Status: 403, Code: "SignatureDoesNotMatch" });
      const head = await obs.getObjectMetadata({ Bucket: "backups", Key: "runs/a/00000.tar" });
      expect(head.CommonMsg.Status).toBe(403);
    } finally {
      obs.close();
    }
  });

  it("checks the OBS signature scheme too (`OBS AK:sig` over x-obs-* headers)", async () => {
    const { createHmac } = await import("node:crypto");
    const date = new Date().toUTCString();
    const sign = (secret: string) =>
      createHmac("sha1", secret)
        .update(`HEAD\n\n\n${date}\nx-obs-meta-a:1\n/backups/runs/a/00000.tar`)
        .digest("base64");
    const send = (secret: string) =>
      fetch(`${emulator.url}/backups/runs/a/00000.tar`, {
        method: "HEAD",
        headers: {
          date,
          "x-obs-meta-a": "1",
          authorization: `OBS ${DEMO_CREDENTIALS.accessKey}:${sign(secret)}`,
        },
      });
    expect((await send(DEMO_CREDENTIALS.secretKey)).status).toBe(200);
    expect((await send("not-the-emulator-secret-key")).status).toBe(403);
  });
});
