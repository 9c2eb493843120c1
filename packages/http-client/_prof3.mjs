import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { writeFileSync, mkdtempSync } from "node:fs";
import { createCphClient } from "@cph-export/http-client";
const dir = mkdtempSync("/tmp/prof3-");
writeFileSync(dir + "/c.json", JSON.stringify({ jobDurationMs: 3600000, faults: { latencyMs: 20 } }));
const child = spawn(
  process.execPath,
  ["../emulator/bin/cph-emulator.js", "--port", "0", "--data-dir", dir + "/d", "--config", dir + "/c.json"],
  { stdio: ["ignore", "pipe", "inherit"] },
);
const lines = createInterface({ input: child.stdout });
const [first] = await once(lines, "line");
lines.on("line", () => {});
const url = first.split(" ").at(-1);
const client = createCphClient({
  endpoint: url,
  projectId: "0123456789abcdef0123456789abcdef",
  credentials: {
    type: "aksk",
    accessKey: "EMULATORDEMOAK0000001",
    secretKey: "emulator-demo-secret-key-0001",
  },
});
function* phones(p, n) {
  for (let i = 0; i < n; i++) {
    const id = p + i.toString(16).padStart(12, "0");
    yield {
      phone_id: id,
      include_files: ["/data/app", "/data/media"],
      exclude_files: ["/data/media/0/DCIM/.thumbnails"],
      bucket_name: "bench-bucket",
      object_path: `fleet/${id}.tar`,
    };
  }
}
for (let r = 0; r < 5; r++) {
  const c0 = process.cpuUsage();
  const t = performance.now();
  let n = 0;
  for await (const x of client.exportMany(phones("p" + r, 10000), { batchSize: 100, concurrency: 8 })) n++;
  const cpu = process.cpuUsage(c0);
  console.log(
    n,
    (performance.now() - t).toFixed(0),
    "ms wall",
    ((cpu.user + cpu.system) / 1000).toFixed(0),
    "ms cpu",
  );
}
await client.close();
child.kill();
