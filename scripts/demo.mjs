// `npm run demo`: starts the built emulator on a free loopback port, exports the 40 phones of
// examples/demo-phones.ndjson with the built cph-export (progress bar, result table), shows where
// the archives landed and what one holds, proves them in the bucket (verify), restores three
// phones whose files were changed and shows the files came back, and stops the emulator, also on
// Ctrl-C.
import { spawn } from "node:child_process";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const demoDir = join(root, ".demo");
const dataDir = join(demoDir, "obs");
const phonesFile = join(root, "examples", "demo-phones.ndjson");
const emulatorConfig = join(root, "examples", "demo-emulator.json");
const emulatorBin = join(root, "packages", "emulator", "bin", "cph-emulator.js");
const cliBin = join(root, "packages", "cli", "bin", "cph-export.js");
const BUCKET = "demo-backups";

// The emulator's documented demo credentials: public, good for nothing but the emulator.
const DEMO = {
  projectId: "0123456789abcdef0123456789abcdef",
  accessKey: "EMULATORDEMOAK0000001",
  secretKey: "emulator-demo-secret-key-0001",
};

const color = process.stdout.isTTY && !process.env.NO_COLOR;
const bold = (text) => (color ? `\u001b[1m${text}\u001b[0m` : text);
const say = (text = "") => process.stdout.write(`${text}\n`);

let emulator;
let interrupted = false;

async function startEmulator() {
  const log = createWriteStream(join(demoDir, "emulator.log"));
  const child = spawn(
    process.execPath,
    [emulatorBin, "--port", "0", "--host", "127.0.0.1", "--data-dir", dataDir, "--config", emulatorConfig],
    // Its own process group: Ctrl-C reaches the CLI, and the demo stops the emulator itself.
    { stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  child.stderr.pipe(log);
  const url = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once("line", (line) => {
      const match = /^cph-emulator listening on (http:\/\/\S+)$/.exec(line);
      if (!match) reject(new Error(`unexpected first line from the emulator: ${line}`));
      else resolve(match[1]);
      // The rest is one JSON line per request: kept in .demo/emulator.log.
      lines.on("line", (next) => log.write(`${next}\n`));
    });
    child.once("exit", (code) =>
      reject(
        new Error(`the emulator exited (${code}); see ${relative(root, join(demoDir, "emulator.log"))}`),
      ),
    );
  });
  return { child, url };
}

async function stopEmulator() {
  const child = emulator?.child;
  emulator = undefined;
  if (!child || child.exitCode !== null) return false;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
  return true;
}

function runCli(args, env, { quiet = false } = {}) {
  return new Promise((resolve) => {
    // Inherited stdio: on a terminal the CLI draws its progress bar and prints its table itself.
    // `quiet`: its results (stdout) are not shown, only its messages and summary (stderr).
    const child = spawn(process.execPath, [cliBin, ...args], {
      stdio: quiet ? ["inherit", "ignore", "inherit"] : "inherit",
      env: { ...process.env, ...env },
    });
    child.on("close", (code, signal) => resolve(code ?? (signal === "SIGINT" ? 130 : 1)));
  });
}

async function listFiles(directory) {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name))
    .sort();
}

async function firstEntries(archive, count) {
  // tar-stream is the emulator's own dependency (it writes the archives with it).
  const tar = createRequire(join(root, "packages", "emulator", "package.json"))("tar-stream");
  const extract = tar.extract();
  const names = [];
  let total = 0;
  const done = new Promise((resolve, reject) => {
    extract.on("entry", (header, stream, next) => {
      total++;
      if (names.length < count)
        names.push(
          `${header.type === "directory" ? "d" : "-"} ${String(header.size ?? 0).padStart(8)}  ${header.name}`,
        );
      stream.on("end", next);
      stream.resume();
    });
    extract.on("finish", resolve);
    extract.on("error", reject);
  });
  createReadStream(archive).pipe(extract);
  await done;
  return { names, total };
}

/** The files of an emulated phone (its overlay of changes included), through the control routes. */
async function phoneFile(phoneId, path) {
  const response = await fetch(
    `${emulator.url}/__emulator/phones/${phoneId}/file?path=${encodeURIComponent(path)}`,
  );
  return response.status === 200 ? Buffer.from(await response.arrayBuffer()) : undefined;
}

async function changePhoneFile(phoneId, path, content) {
  const url = `${emulator.url}/__emulator/phones/${phoneId}/file?path=${encodeURIComponent(path)}`;
  const response = await fetch(
    url,
    content === undefined ? { method: "DELETE" } : { method: "PUT", body: content },
  );
  if (response.status !== 200) throw new Error(`could not change ${path} on ${phoneId}: ${response.status}`);
}

/** Changes and deletes a file on a few exported phones, restores them, and shows the files came back. */
async function restoreStep(archives, bucketDir, env) {
  say(bold("== Restore: put three phones' data back"));
  const picked = [];
  for (const archive of archives) {
    const phoneId = archive.slice(archive.lastIndexOf("/") + 1, -".tar".length);
    const listed = await (await fetch(`${emulator.url}/__emulator/phones/${phoneId}/files`)).json();
    // Files the export took: under /data, not /data/local/tmp (see the export's flags above).
    const [changed, deleted] = listed.files.filter(
      (path) => path.startsWith("/data/") && !path.startsWith("/data/local/tmp/"),
    );
    picked.push({
      phoneId,
      objectPath: relative(bucketDir, archive),
      changed: { path: changed, before: await phoneFile(phoneId, changed) },
      deleted: { path: deleted, before: await phoneFile(phoneId, deleted) },
    });
  }
  for (const phone of picked) {
    await changePhoneFile(phone.phoneId, phone.changed.path, "overwritten by mistake\n");
    await changePhoneFile(phone.phoneId, phone.deleted.path, undefined);
    say(`  ${phone.phoneId}: overwrote ${phone.changed.path}, deleted ${phone.deleted.path}`);
  }
  const input = join(demoDir, "restore-phones.ndjson");
  await writeFile(
    input,
    picked
      .map((phone) =>
        JSON.stringify({ phone_id: phone.phoneId, bucket_name: BUCKET, object_path: phone.objectPath }),
      )
      .join("\n"),
  );
  const args = [
    "restore",
    "--input",
    relative(process.cwd(), input) || input,
    "--journal",
    join(demoDir, "restore.journal"),
    "--yes",
    "--wait",
    "--poll-interval",
    "500ms",
    "--output",
    "table",
  ];
  say(bold(`$ cph-export ${args.join(" ")}`));
  const code = await runCli(args, env);
  if (interrupted || code === 130) return 130;
  if (code !== 0) {
    say(`cph-export restore exited with ${code}; the demo expected 0. See the messages above.`);
    return code;
  }
  for (const phone of picked) {
    for (const file of [phone.changed, phone.deleted]) {
      const now = await phoneFile(phone.phoneId, file.path);
      const same = now !== undefined && file.before !== undefined && now.equals(file.before);
      say(
        `  ${phone.phoneId} ${file.path}: ${same ? `back, ${now.length} bytes, identical to before` : "NOT restored"}`,
      );
      if (!same) return 1;
    }
  }
  return 0;
}

async function main() {
  for (const path of [emulatorBin, cliBin, join(root, "packages", "cli", "dist", "main.js")]) {
    if (!existsSync(path))
      throw new Error(
        `${relative(root, path)} is missing: run "npm run demo" (it installs and builds first)`,
      );
  }
  await rm(demoDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true });
  const config = JSON.parse(await readFile(emulatorConfig, "utf8"));
  const missing = config.phones?.missing ?? [];
  const failing = Object.entries(config.phones?.failing ?? {});
  const phones = (await readFile(phonesFile, "utf8")).split("\n").filter((line) => line.trim()).length;

  say(bold("== cph-export demo"));
  emulator = await startEmulator();
  say(`Started the CPH emulator at ${emulator.url} (a local stand-in for Huawei Cloud CPH and IAM).`);
  say(
    `Exporting the ${phones} phones of ${relative(root, phonesFile)} to the bucket "${BUCKET}" and waiting for the jobs.`,
  );
  say(
    `Two of them are set up to fail in ${relative(root, emulatorConfig)}, to show what a failure looks like.`,
  );
  say();

  const journal = join(demoDir, "export.journal");
  const args = [
    "export",
    "--input",
    relative(process.cwd(), phonesFile) || phonesFile,
    "--include",
    "/data",
    "--exclude",
    "/data/local/tmp",
    "--bucket",
    BUCKET,
    "--object-path",
    "cph/{date}/{phone_id}.tar",
    "--wait",
    "--poll-interval",
    "500ms",
    "--journal",
    journal,
    "--batch-size",
    "4",
    "--concurrency",
    "1",
    "--output",
    "table",
  ];
  say(bold(`$ cph-export ${args.map((arg) => (/[{}\s]/.test(arg) ? `'${arg}'` : arg)).join(" ")}`));
  const code = await runCli(args, {
    CPH_ENDPOINT: emulator.url,
    CPH_PROJECT_ID: DEMO.projectId,
    HUAWEICLOUD_SDK_AK: DEMO.accessKey,
    HUAWEICLOUD_SDK_SK: DEMO.secretKey,
  });
  say();
  if (interrupted || code === 130) {
    say(
      `Interrupted. Rerunning "npm run demo" starts again from scratch (the CLI itself resumes with --journal).`,
    );
    return 130;
  }
  // Exit 1 means "some phones rejected or failed": exactly what the demo arranges.
  if (code !== 0 && code !== 1) {
    say(
      `cph-export exited with ${code}; the demo expected 1 (two phones fail on purpose). See the messages above.`,
    );
    return code;
  }

  say(bold("== Why two phones have no archive"));
  for (const id of missing) {
    say(
      `  ${id}: rejected inside the 200 answer with CPS.0005: the emulator is told it does not exist ("missing").`,
    );
  }
  for (const [id, errorCode] of failing) {
    say(`  ${id}: accepted, but its export job ended in failure with ${errorCode} ("failing").`);
  }
  say("  cph-export exited with 1 (some phones rejected or failed); the demo treats that as expected.");
  say();

  const bucketDir = join(dataDir, BUCKET);
  const archives = existsSync(bucketDir)
    ? (await listFiles(bucketDir)).filter((file) => file.endsWith(".tar"))
    : [];
  say(bold("== Where the archives are"));
  say(`  ${archives.length} archives under ${bucketDir}/`);
  say(`  (the emulator writes each to <data-dir>/<bucket>/<object_path>, as OBS would store the object)`);
  say(`  the journal of the run: ${journal}`);
  const sample = archives[0];
  if (sample) {
    const { names, total } = await firstEntries(sample, 8);
    say();
    say(bold(`== The first entries of ${relative(bucketDir, sample)} (${total} entries)`));
    for (const name of names) say(`  ${name}`);
  }
  say();
  const env = {
    CPH_ENDPOINT: emulator.url,
    CPH_OBS_ENDPOINT: emulator.url,
    CPH_PROJECT_ID: DEMO.projectId,
    HUAWEICLOUD_SDK_AK: DEMO.accessKey,
    HUAWEICLOUD_SDK_SK: DEMO.secretKey,
  };

  say(bold("== Proof that each archive is in the bucket"));
  const report = join(demoDir, "proof.csv");
  const verifyArgs = ["verify", "--journal", journal, "--report", report];
  say(bold(`$ cph-export ${verifyArgs.join(" ")}`));
  const verified = await runCli(verifyArgs, env, { quiet: true });
  if (interrupted || verified === 130) return 130;
  const proof = (await readFile(report, "utf8")).split("\r\n").filter(Boolean);
  say(`  (exit ${verified}: the two phones above have no archive to prove; every other one is verified)`);
  say(`  one row per phone in ${relative(process.cwd(), report) || report}, e.g.:`);
  for (const line of proof.slice(0, 3)) say(`    ${line.length > 150 ? `${line.slice(0, 147)}...` : line}`);
  say();

  const restored = await restoreStep(archives.slice(0, 3), bucketDir, env);
  if (restored !== 0) return restored;
  say();
  say(`Next: point the same command at a real region with --region cn-north-4 and your own credentials`);
  say(`(HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK, CPH_PROJECT_ID); see packages/cli/README.md.`);
  return 0;
}

// Ctrl-C reaches the CLI (same process group) which flushes its journal and exits 130; the demo
// then stops the emulator before it exits.
process.on("SIGINT", () => {
  interrupted = true;
});

let exitCode = 1;
try {
  exitCode = await main();
} catch (error) {
  process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
} finally {
  if (await stopEmulator()) say("Stopped the emulator.");
}
process.exitCode = exitCode;
