/**
 * Where the worker may write rendered YAML (`writeRenderedTo`). The input comes from workflow code, so
 * it is confined the way template names are: the worker names one directory (`renderedOutputDir`,
 * `worker --rendered-dir`), and an input may only name that directory (`.`) or a subdirectory of it,
 * by a relative path of plain segments. Nothing is created or written before the whole plan (template,
 * manifests, Job name) has been validated.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FailureType } from './failures.js';
import { KubernetesJobsError } from './errors.js';
import { isRenderedSubdir } from './rendered-subdir.js';

function refuse(message: string): never {
  throw new KubernetesJobsError(FailureType.InvalidManifest, `writeRenderedTo: ${message}`, { nonRetryable: true });
}

/**
 * The relative segments of `sub` (empty for the root itself), or a non-retryable error naming what is
 * wrong. Pure: touches no file.
 */
export function renderedSubdirSegments(sub: string): string[] {
  if (sub === '.') return [];
  if (typeof sub === 'string' && (path.posix.isAbsolute(sub) || path.win32.isAbsolute(sub))) {
    refuse(`'${sub}' is absolute; name '.' or a subdirectory of the worker's rendered-output directory (relative, e.g. 'nightly/run-1')`);
  }
  if (!isRenderedSubdir(sub)) {
    refuse(`${JSON.stringify(sub)} must be '.' or a relative path of plain segments (letters, digits, '.', '_', '-'; none starting with '.' or '-', so no '..'), at most 255 characters`);
  }
  return sub.replace(/\/$/, '').split('/');
}

/**
 * Resolves `sub` under `root`, creates the directories and returns the directory to write into. A
 * symlink on the way that leads outside `root` is refused.
 */
export function renderedOutputDirFor(root: string | undefined, sub: string): string {
  const segments = renderedSubdirSegments(sub);
  if (!root) {
    refuse(`this worker has no rendered-output directory; start it with 'worker --rendered-dir DIR' (option renderedOutputDir) to allow writing rendered YAML`);
  }
  let realRoot: string;
  try {
    realRoot = fs.realpathSync(root);
  } catch {
    refuse(`the worker's rendered-output directory '${root}' does not exist`);
  }
  // Walk down one segment at a time, so that nothing is created beyond a symlink that leads out.
  let dir = realRoot;
  for (const segment of segments) {
    const next = path.join(dir, segment);
    let stat: fs.Stats | undefined;
    try {
      stat = fs.lstatSync(next);
    } catch {
      stat = undefined;
    }
    if (!stat) {
      fs.mkdirSync(next);
      dir = next;
    } else if (stat.isSymbolicLink()) {
      const real = fs.realpathSync(next);
      if (real !== realRoot && !real.startsWith(realRoot + path.sep)) refuse(`'${sub}' leads outside the worker's rendered-output directory (through a symlink)`);
      dir = real;
    } else if (stat.isDirectory()) {
      dir = next;
    } else {
      refuse(`'${sub}': '${segment}' exists and is not a directory`);
    }
  }
  return dir;
}

/** Writes `text` to `dir/fileName`, refusing to follow a symlink planted at the file's place. */
export function writeRenderedFile(dir: string, fileName: string, text: string): string {
  const file = path.join(dir, path.basename(fileName));
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, 0o644);
  try {
    fs.writeFileSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
  return file;
}
