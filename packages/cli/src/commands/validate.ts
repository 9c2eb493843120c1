import { checkFlagValues } from "../flag-values.js";
import { EXIT } from "../exit-codes.js";
import type { Context } from "../io.js";
import { parseOptions, validateOptionsSchema } from "../options.js";
import { formatIssue, openPhones, scanPhones } from "../phones.js";
import { parseObjectPathTemplate } from "../template.js";

/**
 * `cph-export validate`: every issue of every phone, each with its line and field path, and no
 * network. Exit 2 when there is any error; warnings alone do not fail.
 */
export async function validateCommand(raw: unknown, context: Context): Promise<number> {
  const options = parseOptions(validateOptionsSchema, raw, "validate");
  const template = options.objectPath !== undefined ? parseObjectPathTemplate(options.objectPath) : undefined;
  checkFlagValues(options);
  const source = await openPhones(options, context.io);
  let count = 0;
  try {
    const summary = await scanPhones(
      source,
      {
        bucket: options.bucket,
        include: options.include,
        exclude: options.exclude,
        template,
        date: context.now(),
      },
      async (issue) => {
        count++;
        if (options.output === "text") {
          await context.out.writeAsync(`${formatIssue(issue, source)}\n`);
          return;
        }
        const json = JSON.stringify({
          line: issue.line,
          phone_id: issue.phoneId,
          path: issue.path,
          code: issue.code,
          severity: issue.severity,
          message: issue.message,
        });
        if (options.output === "ndjson") await context.out.writeAsync(`${json}\n`);
        else await context.out.writeAsync(`${count === 1 ? "[\n  " : ",\n  "}${json}`);
      },
      context.io.signal,
    );
    if (options.output === "json") await context.out.writeAsync(count === 0 ? "[]\n" : "\n]\n");
    const phones = `${summary.phones} ${summary.phones === 1 ? "phone" : "phones"}`;
    const errors = `${summary.errors} ${summary.errors === 1 ? "error" : "errors"}`;
    const warnings = `${summary.warnings} ${summary.warnings === 1 ? "warning" : "warnings"}`;
    context.err.write(`validate: ${source.name}: ${phones}, ${errors}, ${warnings}\n`);
    return summary.errors > 0 ? EXIT.usage : EXIT.ok;
  } finally {
    await source.close();
  }
}
