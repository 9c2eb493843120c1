import { createRandom, hashString, randomInt } from "./random.js";

// Every phone has the demo app of the docs' examples, then a seeded pick of these.
const DEMO_PACKAGE = "com.example.app";
const PACKAGES = [
  "com.android.chrome",
  "com.tencent.mm",
  "com.huawei.appmarket",
  "com.whatsapp",
  "com.ss.android.ugc.aweme",
  "com.eg.android.AlipayGphone",
  "com.sina.weibo",
  "com.netease.cloudmusic",
  "org.telegram.messenger",
  "com.google.android.youtube",
  "com.example.game",
  "com.taobao.taobao",
  "com.baidu.BaiduMap",
  "com.spotify.music",
  "com.tencent.mobileqq",
  "com.xunmeng.pinduoduo",
  "com.android.vending",
  "com.instagram.android",
  "com.facebook.katana",
  "com.zhihu.android",
  "com.kugou.android",
  "com.jingdong.app.mall",
  "com.autonavi.minimap",
  "com.tencent.tmgp.sgame",
  "com.miHoYo.GenshinImpact",
  "com.netflix.mediaclient",
  "com.microsoft.teams",
  "com.skype.raider",
  "com.twitter.android",
  "com.linkedin.android",
  "com.duolingo",
  "com.example.shop",
  "com.example.chat",
  "com.example.notes",
  "com.example.camera",
  "com.example.maps",
  "com.example.music",
  "com.example.video",
  "com.example.reader",
  "com.example.wallet",
];

const FILE_DIRECTORIES = ["", "config/", "downloads/", "logs/", "state/", "assets/v2/", "sync/outbox/"];
const FILE_EXTENSIONS = [".bin", ".json", ".log", ".dat", ".txt"];

// A path over 255 bytes: its tar member needs a pax header (ustar's name+prefix cannot hold it).
const LONG_DIRECTORY =
  "files/offline/cache/very/deep/directory/structure/kept/by/the/demo/app/for/testing/long/tar/member/names/" +
  "that/do/not/fit/into/the/hundred/byte/ustar/name/field/nor/into/its/hundred/and/fifty/five/byte/prefix/" +
  "so/the/archive/needs/a/pax/extended/header/";

function pad(value: number, width = 2): string {
  return String(value).padStart(width, "0");
}

function hex(random: () => number, length: number): string {
  let out = "";
  while (out.length < length) out += randomInt(random, 0x10000).toString(16).padStart(4, "0");
  return out.slice(0, length);
}

function timestamp(random: () => number, dateSeparator: string, timeSeparator: string): string {
  const date = new Date(Date.UTC(2024, 0, 1) + randomInt(random, 365 * 24 * 3600) * 1000);
  return (
    `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${dateSeparator}` +
    `${pad(date.getUTCHours())}${timeSeparator}${pad(date.getUTCMinutes())}${timeSeparator}${pad(date.getUTCSeconds())}`
  );
}

/**
 * Whether a phone id is one of the large phones (about one in sixteen), which hold a few
 * thousand files instead of a few dozen to a few hundred.
 */
export function isLargePhone(phoneId: string): boolean {
  return hashString(`size:${phoneId}`) % 16 === 0;
}

function pickPackages(random: () => number, count: number): string[] {
  const pool = [...PACKAGES];
  const picked = [DEMO_PACKAGE];
  while (picked.length < count && pool.length > 0) {
    picked.push(pool.splice(randomInt(random, pool.length), 1)[0]!);
  }
  return picked;
}

/**
 * The simulated device files of a phone, sorted: apps under `/data/app` and `/data/data`, media
 * under `/data/media/0`, `/data/local/tmp`, a little of `/data/system` and `/cache`. The same id
 * always gives the same tree.
 *
 * @example matchExportPaths(listPhoneFiles(phoneId), ["/data/data"], ["/data/data/com.example.app/cache"])
 */
export function listPhoneFiles(phoneId: string): string[] {
  const random = createRandom(hashString(`tree:${phoneId}`));
  const large = isLargePhone(phoneId);
  const files = new Set<string>();
  const packages = pickPackages(random, large ? 16 + randomInt(random, 13) : 3 + randomInt(random, 6));
  for (const name of packages) {
    const install = `/data/app/${name}-${1 + randomInt(random, 3)}`;
    files.add(`${install}/base.apk`);
    if (random() < 0.5) files.add(`${install}/lib/arm64/lib${name.split(".").at(-1)!.toLowerCase()}.so`);
    if (random() < 0.3) files.add(`${install}/split_config.arm64_v8a.apk`);
    const data = `/data/data/${name}`;
    files.add(`${data}/shared_prefs/${name}_preferences.xml`);
    const databases = randomInt(random, 3);
    for (let index = 0; index < databases; index++) {
      files.add(`${data}/databases/store${index}.db`);
      if (random() < 0.5) files.add(`${data}/databases/store${index}.db-journal`);
    }
    const count = large ? 20 + randomInt(random, 40) : 2 + randomInt(random, 12);
    for (let index = 0; index < count; index++) {
      const directory = FILE_DIRECTORIES[randomInt(random, FILE_DIRECTORIES.length)]!;
      const extension = FILE_EXTENSIONS[randomInt(random, FILE_EXTENSIONS.length)]!;
      files.add(`${data}/files/${directory}f${hex(random, 8)}${extension}`);
    }
    const cached = large ? 10 + randomInt(random, 20) : randomInt(random, 6);
    for (let index = 0; index < cached; index++) files.add(`${data}/cache/${hex(random, 12)}.tmp`);
    if (random() < 0.4) files.add(`/data/media/0/Android/data/${name}/files/export-${hex(random, 6)}.dat`);
  }
  files.add(`/data/data/${DEMO_PACKAGE}/${LONG_DIRECTORY}entry-${hex(random, 8)}.bin`);
  const photos = large ? 600 + randomInt(random, 800) : 5 + randomInt(random, 60);
  for (let index = 0; index < photos; index++)
    files.add(`/data/media/0/DCIM/Camera/IMG_${timestamp(random, "_", "")}.jpg`);
  const screenshots = large ? 100 + randomInt(random, 200) : randomInt(random, 15);
  for (let index = 0; index < screenshots; index++) {
    files.add(`/data/media/0/Pictures/Screenshots/Screenshot_${timestamp(random, "-", "")}.png`);
  }
  const downloads = randomInt(random, 6);
  for (let index = 0; index < downloads; index++)
    files.add(`/data/media/0/Download/document-${index + 1}.pdf`);
  const temporary = 1 + randomInt(random, 4);
  for (let index = 0; index < temporary; index++) files.add(`/data/local/tmp/trace-${index + 1}.txt`);
  files.add("/data/system/packages.xml");
  files.add("/data/misc/wifi/WifiConfigStore.xml");
  files.add("/cache/recovery/last_log");
  if (random() < 0.5) files.add("/cache/recovery/last_install");
  const backups = randomInt(random, 5);
  for (let index = 0; index < backups; index++) files.add(`/cache/backup/pending-${hex(random, 6)}.bak`);
  return [...files].sort();
}

/** Bytes that start files of these types, so that `file(1)` recognises the contents. */
const MAGIC: Record<string, number[]> = {
  ".apk": [0x50, 0x4b, 0x03, 0x04],
  ".jpg": [0xff, 0xd8, 0xff, 0xe0],
  ".png": [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
  ".pdf": [0x25, 0x50, 0x44, 0x46, 0x2d],
  ".db": [...Buffer.from("SQLite format 3\u0000", "latin1")],
};

function extensionOf(path: string): string {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  return dot <= 0 ? "" : name.slice(dot);
}

/** One simulated file: its deterministic contents and modification time. */
export interface PhoneFile {
  content: Buffer;
  mtime: Date;
}

/** The contents and time of one file of a phone (any path gives bytes; the tree says which exist). */
export function readPhoneFile(phoneId: string, path: string): PhoneFile {
  const random = createRandom(hashString(`file:${phoneId}:${path}`));
  const mtime = new Date(Date.UTC(2024, 0, 1) + randomInt(random, 365 * 24 * 3600) * 1000);
  const extension = extensionOf(path);
  if (extension === ".xml") {
    const text =
      "<?xml version='1.0' encoding='utf-8' standalone='yes' ?>\n<map>\n" +
      `    <string name="phone_id">${phoneId}</string>\n    <string name="path">${path}</string>\n` +
      `    <int name="seed" value="${randomInt(random, 1_000_000)}" />\n</map>\n`;
    return { content: Buffer.from(text, "utf8"), mtime };
  }
  if (
    extension === ".txt" ||
    extension === ".log" ||
    extension === ".json" ||
    path.endsWith("/last_log") ||
    path.endsWith("/last_install")
  ) {
    const lines = 1 + randomInt(random, 12);
    let text = "";
    for (let index = 0; index < lines; index++) text += `${index + 1} ${path} on ${phoneId}\n`;
    return { content: Buffer.from(text, "utf8"), mtime };
  }
  const size =
    extension === ".apk"
      ? 2048 + randomInt(random, 6144)
      : extension === ".jpg" || extension === ".png"
        ? 512 + randomInt(random, 2560)
        : randomInt(random, 1024);
  const content = Buffer.allocUnsafe(size);
  for (let index = 0; index < size; index += 4) {
    const word = Math.floor(random() * 4294967296);
    for (let byte = 0; byte < 4 && index + byte < size; byte++)
      content[index + byte] = (word >>> (byte * 8)) & 0xff;
  }
  const magic = MAGIC[extension];
  if (magic)
    for (let index = 0; index < magic.length && index < size; index++) content[index] = magic[index]!;
  return { content, mtime };
}
