// Response bodies as the API documents them (seed page, api/CPH-API.md sections 3-5), kept as the
// raw text the service sends, so that parsing is tested on bytes rather than on our own objects.

/** The seed page's example response to batch-storage. */
export const BATCH_EXPORT_OK = `{
  "request_id" : "6837531fd3f54550927b930180a706bf",
  "jobs" : [ {
    "phone_id" : "1234567b8bab40ffb711234cb80d0234",
    "job_id" : "1564567b8bab40f34711234cb80d0123"
  } ]
}`;

/** A 200 that is a partial failure: one phone accepted, one rejected inside the answer. */
export const BATCH_EXPORT_PARTIAL = `{
  "request_id": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
  "jobs": [
    { "phone_id": "1234567b8bab40ffb711234cb80d0234", "job_id": "1564567b8bab40f34711234cb80d0123", "error_code": null, "error_msg": null },
    { "phone_id": "ffffffffffffffffffffffffffffffff", "error_code": "CPS.0005", "error_msg": "The cloud phone does not exist." }
  ],
  "unexpected_new_field": { "nested": [1, 2, 3] }
}`;

/** ShowJob of a finished job: error fields are JSON null, plus a field newer than the docs. */
export const SHOW_JOB_SUCCEEDED = `{
  "request_id": "6837531fd3f54550927b930180a706bf",
  "job_id": "1564567b8bab40f34711234cb80d0123",
  "phone_id": "1234567b8bab40ffb711234cb80d0234",
  "server_id": "",
  "begin_time": "2026-01-02T03:04:05Z",
  "end_time": "2026-01-02T03:06:41Z",
  "status": 2,
  "error_code": null,
  "error_msg": null,
  "execute_msg": null,
  "project_id": "0123456789abcdef0123456789abcdef"
}`;

/** ListJobs for one request id: one running, one failed, one with an undocumented status. */
export const LIST_JOBS = `{
  "request_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
  "count": 3,
  "jobs": [
    { "job_id": "j1", "phone_id": "p1", "request_id": "6837531fd3f54550927b930180a706bf", "begin_time": "2026-01-02T03:04:05Z", "end_time": null, "status": 1, "error_code": null, "error_msg": null },
    { "job_id": "j2", "phone_id": "p2", "request_id": "6837531fd3f54550927b930180a706bf", "begin_time": "2026-01-02T03:04:05Z", "end_time": "2026-01-02T03:05:00Z", "status": -1, "error_code": "CPS.0003", "error_msg": "Internal error, please try again later.", "execute_msg": "upload to OBS failed" },
    { "job_id": "j3", "phone_id": "p3", "status": 7 }
  ]
}`;

/** The CPS error body (section 4). */
export const CPS_ERROR = `{"request_id":"9f8e7d6c5b4a39281706f5e4d3c2b1a0","error_code":"CPS.0005","error_msg":"The cloud phone does not exist."}`;

/** API gateway errors, in the shapes APIG answers with. */
export const APIGW_TOKEN_ERROR = `{"error_msg":"The token must be updated.","error_code":"APIGW.0301","request_id":"a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5"}`;
export const APIGW_THROTTLED = `{"error_msg":"The throttling threshold has been reached: policy user over ratelimit,limit:200,time:1 second","error_code":"APIGW.0308","request_id":"b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6"}`;
export const APIGW_BODY_TOO_LARGE = `{"error_msg":"Request entity too large","error_code":"APIGW.0201","request_id":"c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7"}`;

/** The other shapes the official SDKs read. */
export const CAMEL_ERROR = `{"errorCode":"CPS.0004","errorMsg":"Invalid phone id.","request_id":"d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8"}`;
export const CODE_MESSAGE_ERROR = `{"code":"CPS.0002","message":"Invalid offset or limit."}`;
export const NESTED_ERROR = `{"error":{"code":"APIGW.0302","message":"The IAM user is not authorized to access the API."}}`;
/** IAM (Keystone style): the nested code is a number. */
export const IAM_UNAUTHORIZED = `{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}`;

/** What a proxy or load balancer in between may send instead of JSON. */
export const HTML_BAD_GATEWAY = `<html>
<head><title>502 Bad Gateway</title></head>
<body><center><h1>502 Bad Gateway</h1></center></body>
</html>`;

/** IAM's answer to POST /v3/auth/tokens (section 5.1): microseconds in the times. */
export const IAM_TOKEN_CREATED = `{
  "token": {
    "expires_at": "2026-01-03T03:04:05.123000Z",
    "issued_at": "2026-01-02T03:04:05.123000Z",
    "methods": ["password"],
    "project": { "domain": { "id": "d1", "name": "demo-account" }, "id": "0123456789abcdef0123456789abcdef", "name": "cn-north-4" },
    "user": { "domain": { "id": "d1", "name": "demo-account" }, "id": "u1", "name": "demo-user", "password_expires_at": "" },
    "catalog": []
  }
}`;
