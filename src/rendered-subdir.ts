/**
 * The shape of a `writeRenderedTo` value (sandbox-safe, so DAG validation can check it in the workflow):
 * `.` for the worker's rendered-output directory, or a relative path of plain segments (letters,
 * digits, `.`, `_`, `-`; none starting with `.` or `-`, so no `..`), at most 255 characters.
 */
export const RENDERED_SUBDIR = /^(?:\.|[A-Za-z0-9_][A-Za-z0-9._-]*(?:\/[A-Za-z0-9_][A-Za-z0-9._-]*)*\/?)$/;

/** True if `sub` is an acceptable `writeRenderedTo`. */
export function isRenderedSubdir(sub: unknown): sub is string {
  return typeof sub === 'string' && sub.length <= 255 && RENDERED_SUBDIR.test(sub);
}
