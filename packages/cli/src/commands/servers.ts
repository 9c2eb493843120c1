import type { CloudPhoneServer } from "@cph-export/core";
import type { ServerFilter } from "@cph-export/http-client";
import type { ClientFactory } from "../client.js";
import { connect } from "../connect.js";
import { EXIT } from "../exit-codes.js";
import { type Context, terminalWidth } from "../io.js";
import { parseOptions, serversListOptionsSchema } from "../options.js";
import { ResultWriter } from "../output/results.js";
import type { Column } from "../output/table.js";

export interface ServersDependencies {
  createClient?: ClientFactory | undefined;
}

/** One row of `servers list`: one cloud phone server. */
export interface ServerListRow {
  server_id: string;
  server_name?: string | undefined;
  server_model_name?: string | undefined;
  phone_model_name?: string | undefined;
  /** The server's CPH status code; the API notes give no words for it. */
  status?: number | undefined;
  create_time?: string | undefined;
}

export function serverListRow(server: CloudPhoneServer): ServerListRow | undefined {
  if (!server.server_id) return undefined;
  const row: ServerListRow = { server_id: server.server_id };
  if (server.server_name) row.server_name = server.server_name;
  if (server.server_model_name) row.server_model_name = server.server_model_name;
  if (server.phone_model_name) row.phone_model_name = server.phone_model_name;
  const code = server.status;
  if (code !== undefined) row.status = code;
  if (server.create_time) row.create_time = server.create_time;
  return row;
}

const SERVER_COLUMNS: Column<ServerListRow>[] = [
  { header: "SERVER", value: (row) => row.server_id },
  { header: "NAME", value: (row) => row.server_name, maxWidth: 40, shrink: "end" },
  { header: "MODEL", value: (row) => row.server_model_name, shrink: "end" },
  { header: "PHONE MODEL", value: (row) => row.phone_model_name, shrink: "end" },
  { header: "STATUS", value: (row) => (row.status === undefined ? undefined : String(row.status)) },
];

/** `cph-export servers list`: the project's cloud phone servers (ListCloudPhoneServers, every page). */
export async function serversListCommand(
  raw: unknown,
  context: Context,
  dependencies: ServersDependencies = {},
): Promise<number> {
  const options = parseOptions(serversListOptionsSchema, raw, "servers list");
  const client = await connect(options, context, dependencies.createClient);
  const { io } = context;
  try {
    const filter: ServerFilter = {};
    if (options.serverId !== undefined) filter.serverId = options.serverId;
    if (options.name !== undefined) filter.serverName = options.name;
    if (options.pageSize !== undefined) filter.pageSize = options.pageSize;
    const writer = new ResultWriter<ServerListRow>(
      context.out,
      options.output ?? (io.stdoutIsTTY ? "table" : "json"),
      SERVER_COLUMNS,
      { width: io.stdoutIsTTY ? terminalWidth(io) : undefined },
    );
    let withoutId = 0;
    for await (const server of client.listServers(filter, { signal: io.signal })) {
      const row = serverListRow(server);
      if (row) await writer.add(row);
      else withoutId++;
    }
    await writer.end();
    if (withoutId > 0)
      context.err.write(`warning: ${withoutId} listed servers have no server_id; they are left out\n`);
    context.err.write(`servers: ${writer.count} ${writer.count === 1 ? "server" : "servers"}\n`);
    return EXIT.ok;
  } finally {
    await client.close().catch(() => {});
  }
}
