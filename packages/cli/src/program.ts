import { Command } from "commander";

// The command tree: names, options and help with examples. It loads commander only; each action
// imports its command module (and with it zod, core and the http-client) when it runs.

/** The commands `run` dispatches to. */
export type CommandName =
  | "export"
  | "validate"
  | "verify"
  | "restore"
  | "jobs get"
  | "jobs list"
  | "jobs wait"
  | "phones list"
  | "servers list"
  | "campaign start"
  | "campaign status"
  | "campaign watch"
  | "campaign cancel"
  | "campaign phones"
  | "regions"
  | "completion";

export interface ProgramSettings {
  version: string;
  writeOut: (text: string) => void;
  writeErr: (text: string) => void;
  /** Called with the command and its parsed options (globals included); returns the exit code. */
  dispatch: (name: CommandName, options: Record<string, unknown>) => Promise<number>;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

const PROGRAM_HELP = `
Examples:
  # Export /data of one phone to OBS and wait for the job (credentials from the environment)
  $ export HUAWEICLOUD_SDK_AK=... HUAWEICLOUD_SDK_SK=... CPH_PROJECT_ID=...
  $ cph-export export --region cn-north-4 --phone-id 1a2b3c --include /data \\
      --bucket my-backups --object-path 'phones/{date}/{phone_id}.tar' --wait

  # Export a fleet from a CSV file, resumable, following the jobs to the end
  $ cph-export export --region cn-north-4 --input phones.csv --wait --journal run.journal

  # Check an input file without sending anything
  $ cph-export validate --input phones.ndjson

  # Export every running phone of one server (phones that are off are skipped, with the reason)
  $ cph-export phones list --server-id 3b5c7d9e
  $ cph-export export --server-id 3b5c7d9e --include /data --bucket my-backups \\
      --object-path 'phones/{date}/{phone_id}.tar' --wait --journal fleet.journal

Configuration: flags > environment (CPH_ENDPOINT CPH_REGION CPH_PROJECT_ID CPH_AUTH_TOKEN
HUAWEICLOUD_SDK_AK HUAWEICLOUD_SDK_SK HUAWEICLOUD_SDK_SECURITY_TOKEN CPH_IAM_USER CPH_IAM_PASSWORD
CPH_IAM_DOMAIN CPH_IAM_ENDPOINT) > profile in ~/.config/cph-export/config.json (--profile NAME).

Exit codes: 0 all accepted (with --wait: succeeded), 1 some rejected or failed, 2 usage or invalid
input (nothing sent), 3 authentication or permission failure, 4 network or upstream failure or
phones left unknown, 130 interrupted.
`;

const EXPORT_HELP = `
Input (--input FILE, or - for stdin): a JSON array, NDJSON (one object a line) or CSV with a header
row (phone_id,bucket_name,object_path,include_files,exclude_files; list cells separated by ; or |).
The format comes from the extension (.json .ndjson .jsonl .csv), else --input-format, else the
first character. Flags fill what a row lacks. The whole input is validated before anything is sent.

Selection (instead of --input or --phone-id): --all, or any of --server-id ID, --name TEXT (fuzzy,
done by CPH), --status WORD|N (repeatable or comma-separated; e.g. running, off, frozen, creating,
abnormal, or a status number) and --type 0|1 lists the phones from the API (ListCloudPhones, every
page) and exports them. Only phones whose status is exportable are sent: running by default,
--exportable WORD changes that. The others are not sent and are reported as rejected with
not_exportable and the reason ("phone is off (status 8), not running: not exported"); they do not
make the exit code 1. A selection with no exportable phone is refused (exit 2). --dry-run lists the
phones (read-only GETs, so it needs credentials), prints each as send or skip on stderr and the
export requests on stdout, and sends no export.

--object-path placeholders: {phone_id}, {date} (UTC day of the run, YYYYMMDD), {index} (position
in the input or the selection, from 0).

Proof of archive: --wait --verify then looks for each succeeded phone's archive in OBS (its S3 API,
the same access key) and says verified, missing or stale (empty, or written before the run began);
the journal records each verdict, and any archive not proven makes the exit code 1. Later, or for a
run that left phones unknown: cph-export verify --journal FILE.

Examples:
  # One phone
  $ cph-export export --phone-id 1a2b3c4d --include /data/app --include /data/media \\
      --exclude /data/media/cache --bucket my-backups --object-path 'cph/{phone_id}.tar'

  # Many phones; rows without a bucket or object path get the flags' values
  $ cph-export export --input phones.csv --bucket my-backups \\
      --object-path 'cph/{date}/{phone_id}.tar' --wait --timeout 30m --journal phones.journal

  # The whole fleet, each archive proven in OBS at the end
  $ cph-export export --all --include /data --bucket my-backups \\
      --object-path 'cph/{date}/{phone_id}.tar' --wait --verify --journal fleet.journal

  # Rerun after Ctrl-C or a crash: phones already accepted are not exported again
  $ cph-export export --input phones.csv --wait --journal phones.journal

  # Show the exact requests (credentials redacted) without sending them
  $ cph-export export --input phones.ndjson --dry-run --output json

  # From another program, as NDJSON on stdin, results as NDJSON on stdout
  $ my-inventory | cph-export export --input - --input-format ndjson --output ndjson

  # Every running phone of the project; see first what would be sent and skipped
  $ cph-export export --all --bucket my-backups --object-path 'cph/{phone_id}.tar' --dry-run
  $ cph-export export --all --bucket my-backups --object-path 'cph/{phone_id}.tar' --wait

  # Phones named like "game-" that are running or frozen
  $ cph-export export --name game- --exportable running,frozen --bucket my-backups \\
      --object-path 'cph/{phone_id}.tar'
`;

const PHONES_LIST_HELP = `
Every page of ListCloudPhones, filtered by CPH. The table shows PHONE NAME SERVER STATUS IMAGE;
json and ndjson rows hold phone_id, phone_name, server_id, status, status_word, image_id,
phone_model_name and type. That NDJSON (or JSON) is a valid --input of export and validate: they
ignore every field but phone_id.

--status: creating, running, resetting, rebooting, frozen, shutting-down, off, reset-failed,
reboot-failed, abnormal, create-failed, shutdown-failed, or a status number (repeatable, or
comma-separated: any of them).

Examples:
  $ cph-export phones list
  $ cph-export phones list --server-id 3b5c7d9e --status off,frozen
  $ cph-export phones list --name game- --output ndjson > phones.ndjson
  $ cph-export export --input phones.ndjson --bucket my-backups --object-path 'cph/{phone_id}.tar'
`;

const SERVERS_LIST_HELP = `
Every page of ListCloudPhoneServers. The table shows SERVER NAME MODEL "PHONE MODEL" STATUS.

Examples:
  $ cph-export servers list
  $ cph-export servers list --name prod --output json
`;

const VERIFY_HELP = `
For every phone of the journal (or of --input / --phone-id), looks for its archive in OBS and says:
  verified   the object exists, is not empty, and was written after its request left (--since
             for an input without a journal; the job's begin time when it is known)
  missing    there is no object        stale   there is one, but empty or older than the job
  running    its job has not finished  not_exported  the run did not send it
  pending    unknown, no job visible (the answer was lost) and no archive yet: --settle not over
Phones the journal holds as unknown (the answer was lost) are looked up first (their jobs, then
their archives): found means verified; not found, with the job ended (or --settle over when no
job can be seen), means safe to resend, which --resend-missing does (never by default). The journal records each verification. OBS is read over its S3 API with the
same access key (--obs-endpoint or CPH_OBS_ENDPOINT, default https://obs.{region}.myhuaweicloud.com).
Exit 0 every archive verified, 1 any missing, stale or not exported, 4 running or pending.

Examples:
  $ cph-export verify --journal run.journal --report proof.csv
  $ cph-export verify --journal run.journal --resend-missing --include /data --wait
  $ cph-export verify --input phones.csv --since 2026-12-06T00:00:00Z --output json
`;

const RESTORE_HELP = `
Restore replaces the files of each phone under the archive's paths with the archive's contents
(BatchImportCloudPhoneData). Data exported from a newer Android version cannot be restored onto an
older one: such a phone's job fails. The whole input is validated first (every issue listed, exit 2,
nothing sent); then, on a terminal, it asks before anything is sent; without one, --yes is needed.

--from-journal EXPORT_JOURNAL restores every phone whose export succeeded from the archive it wrote;
the others are reported rejected (not_exported) and not sent. --to-phone-map FILE restores the
archives onto other phones (a migration): only the phones it names are restored, each onto its
target; the others are reported rejected (not_in_map). --journal records the restore (a restore's
journal, never the export's), so a rerun after Ctrl-C or a crash restores no phone twice.

Examples:
  $ cph-export restore --from-journal fleet.journal --journal restore.journal --wait
  $ cph-export restore --from-journal fleet.journal --to-phone-map new-phones.csv --yes --wait
  $ cph-export restore --phone-id 1a2b3c4d --bucket my-backups --object-path 'cph/{phone_id}.tar' --dry-run
`;

const VALIDATE_HELP = `
Prints every issue of every phone with its line and field path, e.g.
  line 7: include_files[1] path_dot_segment: "/data/../x" has a . or .. segment; ...
Exit 2 if there is any error; warnings (such as an object path not ending in .tar) do not fail.

Examples:
  $ cph-export validate --input phones.csv
  $ cph-export validate --input phones.ndjson --bucket my-backups --object-path 'cph/{phone_id}.tar'
  $ cat phones.json | cph-export validate --input - --output json
`;

const CAMPAIGN_HELP = `
A campaign is a fleet export run by a cph-gateway (its replicas share the work through Redis): it
survives the gateway's restarts, and anyone with a gateway key can follow it, here or on the page
GATEWAY/campaigns/ID. The gateway's URL comes from --gateway or CPH_GATEWAY_URL, your gateway API
key from CPH_GATEWAY_API_KEY.

Examples:
  $ export CPH_GATEWAY_URL=http://gateway:8080 CPH_GATEWAY_API_KEY=...
  $ cph-export campaign start --server-id 3b5c7d9e --bucket team-a-backups \\
      --object-path 'team-a/{date}/{phone_id}.tar' --max-errors 5% --rate 10/s --watch
  $ cph-export campaign start --input phones.csv --bucket team-a-backups --object-path 'team-a/{phone_id}.tar'
  $ cph-export campaign watch c-0123456789abcdef0123456789abcdef
  $ cph-export campaign phones c-0123456789abcdef0123456789abcdef --state unknown --output ndjson
  $ cph-export campaign cancel c-0123456789abcdef0123456789abcdef

Exit codes of watch (and start --watch): 0 every phone succeeded, 1 errors or phones left unsent
(cancelled, stopped by --max-errors), 4 phones unknown (check their archives: cph-export verify),
130 interrupted (the campaign goes on in the gateway).
`;

const JOBS_GET_HELP = `
Examples:
  $ cph-export jobs get 1f2e3d4c5b6a7980
  $ cph-export jobs get 1f2e3d4c5b6a7980 --output json
`;

const JOBS_LIST_HELP = `
Examples:
  $ cph-export jobs list --request-id 4f8a9b0c1d2e3f40
  $ cph-export jobs list --request-id id1,id2 --request-id id3 --output ndjson
`;

const JOBS_WAIT_HELP = `
Exit 0 when every job succeeded, 1 if any failed, 4 if any is still running at --timeout.

Examples:
  $ cph-export jobs wait --request-id 4f8a9b0c1d2e3f40
  $ cph-export jobs wait --job-id 1f2e3d4c5b6a7980 --job-id 2a3b4c5d6e7f8091 --timeout 20m
`;

const REGIONS_HELP = `
Examples:
  $ cph-export regions
  $ cph-export regions --output json
`;

const COMPLETION_HELP = `
Examples:
  $ cph-export completion bash > ~/.local/share/bash-completion/completions/cph-export
  $ cph-export completion zsh > "\${fpath[1]}/_cph-export"
  $ cph-export completion fish > ~/.config/fish/completions/cph-export.fish
`;

const OUTPUT_DESCRIPTION = "table, json or ndjson (default: table on a terminal, json otherwise)";

/** Builds the `cph-export` command tree with exit override and the given output. */
export function buildProgram(settings: ProgramSettings): Command {
  const program = new Command("cph-export");
  program
    .description(
      "Export data from Huawei Cloud cloud phones (CPH) to OBS, follow the jobs to the end, prove the archives are there, and restore phones from them.",
    )
    .exitOverride()
    .configureOutput({
      writeOut: settings.writeOut,
      writeErr: settings.writeErr,
      outputError: (text, write) => write(`cph-export: ${text.replace(/^error: /, "")}`),
      // A fixed width: help looks the same everywhere, and main.ts can print it from a cache.
      getOutHelpWidth: () => 80,
      getErrHelpWidth: () => 80,
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    })
    .showSuggestionAfterError(true)
    .showHelpAfterError("(add --help for usage and examples)")
    .configureHelp({ showGlobalOptions: true })
    .version(settings.version, "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .option("--region <id>", "CPH region, e.g. cn-north-4 (see: cph-export regions)")
    .option("--endpoint <url>", "CPH endpoint URL; wins over --region (e.g. a local emulator)")
    .option("--project-id <id>", "project id of the region")
    .option("--profile <name>", "profile of the config file to use")
    .option("--retries <n>", "retries of a request that provably was not processed (default 4)")
    .option("--debug", "log requests (redacted) and show stack traces")
    .addHelpText("after", PROGRAM_HELP);

  const dispatch =
    (name: CommandName) =>
    async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const options = command.optsWithGlobals() as Record<string, unknown>;
      const positional = args.slice(0, -2).filter((value) => typeof value === "string");
      if (name === "jobs get") options["jobId"] = positional[0];
      if (name === "completion") options["shell"] = positional[0];
      if (name.startsWith("campaign ") && name !== "campaign start") options["campaignId"] = positional[0];
      await settings.dispatch(name, options);
    };

  program
    .command("export")
    .description(
      "export phones to OBS: one from flags, many from --input FILE|-, or a selection from the API (--all, --server-id...)",
    )
    .option("--phone-id <id>", "phone to export (repeatable)", collect)
    .option("--include <path>", "device path to export, under /data or /cache (repeatable)", collect)
    .option("--exclude <path>", "device path to leave out; wins over --include (repeatable)", collect)
    .option("--bucket <name>", "OBS bucket, for rows without bucket_name")
    .option(
      "--object-path <template>",
      "OBS object key, for rows without object_path; placeholders {phone_id} {date} {index}",
    )
    .option("--input <file>", "JSON array, NDJSON or CSV of phones; - reads stdin")
    .option("--input-format <format>", "json, ndjson or csv (default: from the extension)")
    .option(
      "--dry-run",
      "validate and print the requests that would be sent (credentials redacted); send nothing",
    )
    .option("--wait", "follow the jobs until they succeed or fail")
    .option("--timeout <duration>", "with --wait: give up after this long, e.g. 30m (jobs left are unknown)")
    .option(
      "--poll-interval <duration>",
      "with --wait: first pause between job checks, growing 1.5x (default 2s)",
    )
    .option("--concurrency <n>", "requests in flight at once (default 4)")
    .option("--batch-size <n>", "phones per request (default 100)")
    .option(
      "--max-errors <n|p%>",
      "stop sending after more than N errors (0: the first) or P% of the phones answered; the rest are reported not_sent",
    )
    .option("--rate <n/s>", "requests per second to CPH, polling included, e.g. 10/s, 0.5/s or 600/min")
    .option("--journal <file>", "record progress here; a rerun with the same file resumes")
    .option(
      "--retry-unknown",
      "with --journal: resend the phones an earlier run left unknown, without checking whether they were exported; check their archives first",
    )
    .option(
      "--verify",
      "with --wait: then look for each succeeded phone's archive in OBS (verified, missing, stale); exit 1 if any is not there",
    )
    .option(
      "--obs-endpoint <url>",
      "with --verify: OBS endpoint (default https://obs.{region}.myhuaweicloud.com)",
    )
    .option("--obs-path-style", "with --verify: buckets in the path (automatic for IPs and localhost)")
    .option("--clock-skew <duration>", "with --verify: how far OBS's clock may lag (default 60s)")
    .option("--output <format>", OUTPUT_DESCRIPTION)
    .option("--all", "select every phone of the project from the API (instead of --input)")
    .option("--server-id <id>", "select the phones of this server from the API")
    .option("--name <text>", "select the phones whose name contains this (fuzzy, done by CPH)")
    .option(
      "--status <word>",
      "select the phones in this status: running, off, frozen... or a number (repeatable, or comma-separated)",
      collect,
    )
    .option("--type <n>", "select the phones of this type: 0 ordinary, 1 trial")
    .option(
      "--exportable <word>",
      "with a selection: the statuses that are sent (default running; repeatable, or comma-separated)",
      collect,
    )
    .option("--page-size <n>", "with a selection: phones per ListCloudPhones call, 1-100 (default 100)")
    .addHelpText("after", EXPORT_HELP)
    .action(dispatch("export"));

  program
    .command("validate")
    .description("check an input file: every issue of every phone, with line and field; no network")
    .requiredOption("--input <file>", "JSON array, NDJSON or CSV of phones; - reads stdin")
    .option("--input-format <format>", "json, ndjson or csv (default: from the extension)")
    .option("--include <path>", "as for export: filled into rows without include_files (repeatable)", collect)
    .option("--exclude <path>", "as for export: filled into rows without exclude_files (repeatable)", collect)
    .option("--bucket <name>", "as for export: filled into rows without bucket_name")
    .option("--object-path <template>", "as for export: filled into rows without object_path")
    .option("--output <format>", "text, json or ndjson (default text)")
    .addHelpText("after", VALIDATE_HELP)
    .action(dispatch("validate"));

  program
    .command("verify")
    .description("prove each archive is in OBS (verified, missing, stale); resolve unknown phones by looking")
    .option("--journal <file>", "the export's journal: its phones, states and archive locations")
    .option("--input <file>", "JSON array, NDJSON or CSV of phones, as for export; - reads stdin")
    .option("--input-format <format>", "json, ndjson or csv (default: from the extension)")
    .option("--phone-id <id>", "phone to verify (repeatable), with --bucket and --object-path", collect)
    .option("--bucket <name>", "as for export: for rows without bucket_name")
    .option("--object-path <template>", "as for export: for rows without object_path")
    .option(
      "--include <path>",
      "with --resend-missing and no --input: the device paths to export (repeatable)",
      collect,
    )
    .option(
      "--exclude <path>",
      "with --resend-missing and no --input: device paths to leave out (repeatable)",
      collect,
    )
    .option(
      "--since <time>",
      "archives must be written after this ISO time (default: when each request left)",
    )
    .option("--clock-skew <duration>", "how far OBS's clock may lag (default 60s)")
    .option(
      "--settle <duration>",
      "how long an unknown phone with no visible job may still get its archive (default 1h)",
    )
    .option(
      "--resend-missing",
      "resend the phones left unknown whose archive is not there (through the journal)",
    )
    .option("--wait", "with --resend-missing: follow the resent phones' jobs to the end")
    .option("--report <file>", "write one row per phone to FILE.json or FILE.csv")
    .option("--obs-endpoint <url>", "OBS endpoint (default https://obs.{region}.myhuaweicloud.com)")
    .option(
      "--obs-path-style",
      "address buckets in the path, not the host name (automatic for IPs and localhost)",
    )
    .option("--output <format>", OUTPUT_DESCRIPTION)
    .addHelpText("after", VERIFY_HELP)
    .action(dispatch("verify"));

  program
    .command("restore")
    .description("put phones' data back from their archives (batch-restore); asks first, or --yes")
    .option(
      "--from-journal <file>",
      "the export's journal: each phone it exported, from the archive it wrote",
    )
    .option(
      "--to-phone-map <file>",
      'restore onto other phones: CSV from_phone_id,to_phone_id or JSON {"from": "to"}',
    )
    .option(
      "--input <file>",
      "JSON array, NDJSON or CSV of phones (phone_id, bucket_name, object_path); - reads stdin",
    )
    .option("--input-format <format>", "json, ndjson or csv (default: from the extension)")
    .option("--phone-id <id>", "phone to restore (repeatable), with --bucket and --object-path", collect)
    .option("--bucket <name>", "bucket of the archives, for rows without bucket_name")
    .option(
      "--object-path <template>",
      "archive key for rows without object_path: {phone_id}, {date}, {index}",
    )
    .option("--yes", "do not ask before overwriting the phones' data (needed without a terminal)")
    .option("--dry-run", "validate and print the requests (credentials redacted) without sending them")
    .option("--wait", "follow the restore jobs until they end")
    .option("--timeout <duration>", "with --wait: stop waiting after this long")
    .option("--poll-interval <duration>", "with --wait: first polling interval")
    .option("--concurrency <n>", "requests in flight (1-64, default 4)")
    .option("--batch-size <n>", "phones per request (default 100)")
    .option("--max-errors <n|p%>", "stop sending after more than N errors or P% of the phones answered")
    .option("--rate <n/s>", "requests per second to CPH, polling included")
    .option(
      "--journal <file>",
      "record this restore here; a rerun with the same file resumes (never an export's journal)",
    )
    .option("--retry-unknown", "with --journal: resend the phones an earlier run left unknown")
    .option("--output <format>", OUTPUT_DESCRIPTION)
    .addHelpText("after", RESTORE_HELP)
    .action(dispatch("restore"));

  const jobs = program
    .command("jobs")
    .description("look at export jobs started here or elsewhere")
    .addHelpText(
      "after",
      `${JOBS_LIST_HELP}  $ cph-export jobs wait --request-id 4f8a9b0c1d2e3f40\n  $ cph-export jobs get 1f2e3d4c5b6a7980\n`,
    );
  jobs
    .command("get")
    .description("show one job")
    .argument("<job-id>", "job id")
    .option("--output <format>", OUTPUT_DESCRIPTION)
    .addHelpText("after", JOBS_GET_HELP)
    .action(dispatch("jobs get"));
  jobs
    .command("list")
    .description("list the jobs of export requests")
    .option("--request-id <id>", "request id of an export call (repeatable, or comma-separated)", collect)
    .option("--output <format>", OUTPUT_DESCRIPTION)
    .addHelpText("after", JOBS_LIST_HELP)
    .action(dispatch("jobs list"));
  jobs
    .command("wait")
    .description("wait until jobs succeed or fail")
    .option(
      "--request-id <id>",
      "wait for every job of this request (repeatable, or comma-separated)",
      collect,
    )
    .option("--job-id <id>", "wait for this job (repeatable, or comma-separated)", collect)
    .option("--timeout <duration>", "give up after this long, e.g. 30m")
    .option("--poll-interval <duration>", "first pause between job checks, growing 1.5x (default 2s)")
    .option("--output <format>", OUTPUT_DESCRIPTION)
    .addHelpText("after", JOBS_WAIT_HELP)
    .action(dispatch("jobs wait"));

  const campaign = program
    .command("campaign")
    .description("fleet exports run by a cph-gateway: start, status, watch, phones, cancel")
    .addHelpText("after", CAMPAIGN_HELP);
  const gatewayOption = "the cph-gateway's URL (default CPH_GATEWAY_URL)";
  campaign
    .command("start")
    .description("start a campaign: phones from --phone-id/--input, or a selection (--all, --server-id...)")
    .option("--gateway <url>", gatewayOption)
    .option("--phone-id <id>", "phone to export (repeatable, or comma-separated)", collect)
    .option("--input <file>", "JSON array, NDJSON or CSV with a phone_id field; - reads stdin")
    .option("--input-format <format>", "json, ndjson or csv (default: from the extension)")
    .option("--all", "every phone of the project (within the caller's servers)")
    .option("--server-id <id>", "the phones of this server")
    .option("--name <text>", "the phones whose name contains this (fuzzy, done by CPH)")
    .option("--status <word>", "the phones in this status (default running; repeatable)", collect)
    .option("--bucket <name>", "OBS bucket of every archive")
    .option("--object-path <template>", "OBS object key; placeholders {phone_id} {date} {index}")
    .option("--include <path>", "device path to export (repeatable; default /data)", collect)
    .option("--exclude <path>", "device path to leave out (repeatable)", collect)
    .option("--batch-size <n>", "phones per CPH request (default and most: the caller's limit, up to 100)")
    .option("--concurrency <n>", "batches in flight over every gateway replica (default 8)")
    .option("--max-errors <n|p%>", "stop sending once more errors than this (count or percentage)")
    .option("--rate <n/s>", "batch requests per second to CPH, e.g. 10/s or 600/min")
    .option("--label <text>", "a name for people")
    .option("--watch", "follow it to the end with a progress bar")
    .option("--interval <duration>", "pause between checks while watching (default 1s)")
    .option("--output <format>", OUTPUT_DESCRIPTION)
    .addHelpText("after", CAMPAIGN_HELP)
    .action(dispatch("campaign start"));
  for (const [name, description] of [
    ["status", "show a campaign: status and counts of its phones by state"],
    ["watch", "follow a campaign to its end with a progress bar; the exit code tells how it ended"],
    ["cancel", "stop sending a campaign's phones; those in flight end as they would"],
    ["phones", "list a campaign's phones (all, or --state S): job, archive, error"],
  ] as const) {
    const command = campaign
      .command(name)
      .description(description)
      .argument("<campaign-id>", "the id campaign start printed")
      .option("--gateway <url>", gatewayOption)
      .option("--output <format>", OUTPUT_DESCRIPTION);
    if (name === "watch") command.option("--interval <duration>", "pause between checks (default 1s)");
    if (name === "phones")
      command.option("--state <state>", "pending, sent, accepted, succeeded, failed, rejected or unknown");
    command.addHelpText("after", CAMPAIGN_HELP).action(dispatch(`campaign ${name}`));
  }

  const phones = program.command("phones").description("look at the project's cloud phones");
  phones
    .command("list")
    .description("list the phones (every page), with their server, status and image")
    .option("--server-id <id>", "only the phones of this server")
    .option("--name <text>", "only the phones whose name contains this (fuzzy, done by CPH)")
    .option(
      "--status <word>",
      "only the phones in this status: running, off, frozen... or a number (repeatable, or comma-separated)",
      collect,
    )
    .option("--type <n>", "only the phones of this type: 0 ordinary, 1 trial")
    .option("--page-size <n>", "phones per ListCloudPhones call, 1-100 (default 100)")
    .option("--output <format>", OUTPUT_DESCRIPTION)
    .addHelpText("after", PHONES_LIST_HELP)
    .action(dispatch("phones list"));

  const servers = program.command("servers").description("look at the project's cloud phone servers");
  servers
    .command("list")
    .description("list the cloud phone servers (every page)")
    .option("--server-id <id>", "only this server")
    .option("--name <text>", "only the servers whose name contains this (fuzzy, done by CPH)")
    .option("--page-size <n>", "servers per ListCloudPhoneServers call, 1-100 (default 100)")
    .option("--output <format>", OUTPUT_DESCRIPTION)
    .addHelpText("after", SERVERS_LIST_HELP)
    .action(dispatch("servers list"));

  program
    .command("regions")
    .description("list the regions where CPH is offered, with their endpoints")
    .option("--output <format>", OUTPUT_DESCRIPTION)
    .addHelpText("after", REGIONS_HELP)
    .action(dispatch("regions"));

  program
    .command("completion")
    .description("print a shell completion script")
    .argument("<shell>", "bash, zsh or fish")
    .addHelpText("after", COMPLETION_HELP)
    .action(dispatch("completion"));

  return program;
}
