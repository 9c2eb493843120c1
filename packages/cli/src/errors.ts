import { EXIT } from "./exit-codes.js";

/**
 * An error the CLI reports as one sentence and an exit code, without a stack trace. Usage errors
 * (exit 2) are raised before anything is sent.
 */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number = EXIT.usage, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** A usage or input error: exit 2, nothing sent. */
export function usageError(message: string): CliError {
  return new CliError(message, EXIT.usage);
}

const AUTH_ERROR_CODES = new Set([
  "APIGW.0301",
  "APIGW.0302",
  "APIGW.0303",
  "APIG.0301",
  "APIG.0302",
  "APIG.0303",
  "CPS.0001",
]);

/** True for a CPH or gateway error code that means bad credentials or no permission. */
export function isAuthErrorCode(code: string | undefined): boolean {
  return code !== undefined && AUTH_ERROR_CODES.has(code);
}

interface CodedError {
  code?: unknown;
  status?: unknown;
  errorCode?: unknown;
  phase?: unknown;
}

/**
 * The exit code for an error thrown by a command. Errors are told apart by their stable `code`
 * (core's `ERR_CPH_*`), never by class name, so this module does not load core.
 */
export function exitCodeFor(error: unknown): number {
  if (error instanceof CliError) return error.exitCode;
  if (isAbortError(error)) return EXIT.interrupted;
  const coded = (typeof error === "object" && error !== null ? error : {}) as CodedError;
  switch (coded.code) {
    case "ERR_CPH_VALIDATION":
      return EXIT.usage;
    case "ERR_CPH_AUTH":
      return EXIT.auth;
    case "ERR_CPH_API":
      if (typeof coded.errorCode === "string" && isAuthErrorCode(coded.errorCode)) return EXIT.auth;
      if (coded.status === 401 || coded.status === 403) return EXIT.auth;
      // A 4xx is the service refusing this request; anything else is an upstream failure.
      return typeof coded.status === "number" &&
        coded.status >= 400 &&
        coded.status < 500 &&
        coded.status !== 429
        ? EXIT.failed
        : EXIT.upstream;
    case "ERR_CPH_NETWORK":
      return EXIT.upstream;
    default:
      return EXIT.upstream;
  }
}

/** True for the error an aborted operation throws. */
export function isAbortError(error: unknown): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    ((error as { name?: unknown }).name === "AbortError" ||
      (error as { code?: unknown }).code === "ABORT_ERR")
  );
}

/** The one sentence printed for an error: what happened, and what to do about it. */
export function describeError(error: unknown): string {
  if (error instanceof CliError) return error.message;
  const coded = (typeof error === "object" && error !== null ? error : {}) as CodedError & {
    message?: unknown;
  };
  const message = typeof coded.message === "string" ? coded.message : String(error);
  switch (coded.code) {
    case "ERR_CPH_AUTH":
      return `authentication failed: ${message}; check the credentials (HUAWEICLOUD_SDK_AK/SK, CPH_AUTH_TOKEN or the IAM user) and the project id.`;
    case "ERR_CPH_API":
      if (exitCodeFor(error) === EXIT.auth) {
        return `permission denied: ${message}; check that the credentials may call CPH in this project.`;
      }
      return `the service refused the request: ${message}.`;
    case "ERR_CPH_NETWORK":
      return `network failure: ${message}; check the endpoint (--endpoint/--region) and the network, then retry.`;
    case "ERR_CPH_VALIDATION":
      return `invalid input: ${message}.`;
    default:
      return `unexpected error: ${message} (run with --debug for details).`;
  }
}
