/**
 * Templates -> YAML -> manifests.
 *
 * Nunjucks (Jinja syntax) renders a template found by name in an ordered list of template directories
 * (the package's own `templates/` always last). The output is then checked so that values can never
 * change the structure of a manifest:
 *
 * 1. While rendering, every `{{ expression }}` output is wrapped in private-use sentinel characters
 *    (a "slot"). Template text is never wrapped, so the template author's YAML stays theirs.
 * 2. A scanner walks the output and finds each slot's YAML context: plain, inside double quotes,
 *    inside single quotes, in a block scalar or in a comment. Inside quotes the value is escaped for
 *    that quoting style; a plain slot that is a whole scalar and would not read back as itself is
 *    double-quoted. Ordinary values are left byte-for-byte as Jinja would print them.
 * 3. Two documents are built: the real one, and a probe in which each slot is an inert token. Both
 *    are parsed with YAML's failsafe schema (every scalar a string). The real tree must equal the
 *    probe tree with each token replaced by its value; otherwise the render fails naming the value.
 *    So a value lands as exactly one scalar equal to itself, or rendering fails.
 * 4. The written text must read the same to kubectl, whose reader (go-yaml, YAML 1.1) takes U+0085,
 *    U+2028 and U+2029 as line breaks and refuses raw control characters: the rendered text holds none
 *    of them raw (values keep them only escaped), and manifests are parsed with kubectl's YAML 1.1
 *    booleans and numbers. test/integration/render-kubectl.test.ts checks this with kubectl itself.
 *
 * Template-made text (a `{% set %}` capture, a macro's output, a `{% filter %}` body) stays template
 * text through `indent` and `trim` (they only pad line starts and strip the ends), so
 * `{{ macro() | indent(12) }}` builds the same YAML structure as in Jinja2. As in Jinja2, `indent` also
 * pads the lines of a multi-line value inside; that value is still checked as one value.
 *
 * The `yaml`/`tojson` filters serialise a value explicitly (a string becomes one quoted scalar, a list
 * or mapping a flow collection); their output is checked the same way against the value it came from.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';
import * as yaml from 'js-yaml';
import { FailureType } from './failures.js';
import { KubernetesJobsError } from './errors.js';
import { validateManifests, type KubernetesObject, type ValidatedManifests } from './manifest.js';

/** The package's own template directory (`templates/` at the package root). Always searched last. */
export const PACKAGE_TEMPLATES_DIR = fileURLToPath(new URL('../templates/', import.meta.url));

/** Options of {@link renderTemplate}. */
export interface RenderOptions {
  /** Template directories searched in order before the package's `templates/`. @default [] */
  templateDirs?: readonly string[];
  /** Values visible to the template as top-level variables. @default {} */
  values?: Record<string, unknown>;
  /** Kinds allowed next to the Job, as `apiVersion/Kind` or `Kind` (core v1). @default DEFAULT_COMPANION_KINDS */
  allowedKinds?: readonly string[];
  /** Write the rendered YAML to this directory (created if missing) for debugging. */
  writeTo?: string;
}

/** What {@link renderTemplate} returns. */
export interface RenderResult extends ValidatedManifests {
  /** The template name as resolved. */
  template: string;
  /** The rendered YAML text, ending with a newline. */
  yaml: string;
  /** Where the YAML was written, when `writeTo` was given. */
  writtenTo?: string;
}

const TEXT_OPEN = '\uE000';
const JSON_OPEN = '\uE002';
const CLOSE = '\uE001';
const RESERVED = /[\uE000-\uE003]/;
const RESERVED_G = /[\uE000-\uE003]/g;
const SLOT_RE = /([\uE000\uE002])([^\uE000-\uE003]*)\uE001/g;

function templateError(message: string, details?: Record<string, unknown>): KubernetesJobsError {
  return new KubernetesJobsError(FailureType.TemplateError, message, { nonRetryable: true, details });
}

// ---------------------------------------------------------------------------------------------
// Loader: names never escape the template directories.

interface LoadedSource {
  fullPath: string;
  mtimeMs: number;
}

/** Checks a template name and returns it normalised, or throws. Exported for tests. */
export function normaliseTemplateName(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '') throw templateError('template name must be a non-empty string');
  if (name.includes('\0')) throw templateError(`template name ${JSON.stringify(name)} contains a NUL byte`);
  if (name.includes('\\')) throw templateError(`template name '${name}' contains a backslash; use '/' between directories`);
  if (path.posix.isAbsolute(name) || /^[A-Za-z]:/.test(name)) {
    throw templateError(`template name '${name}' is absolute; names are relative to the template directories`);
  }
  if (name.split('/').includes('..')) throw templateError(`template name '${name}' reaches outside the template directories ('..')`);
  const normal = path.posix.normalize(name).replace(/^(\.\/)+/, '');
  if (normal === '.' || normal.startsWith('../')) throw templateError(`template name '${name}' reaches outside the template directories`);
  return normal;
}

class SafeLoader {
  /** Filled by nunjucks: compiled templates by name. */
  cache: Record<string, unknown> = {};
  private readonly loaded = new Map<string, LoadedSource>();
  constructor(private readonly dirs: readonly { dir: string; real: string }[]) {}

  getSource(rawName: string): { src: string; path: string; noCache: boolean } | null {
    const name = normaliseTemplateName(rawName);
    for (const { dir, real } of this.dirs) {
      const candidate = path.join(real, name);
      let resolved: string;
      try {
        resolved = fs.realpathSync(candidate);
      } catch {
        continue;
      }
      if (resolved !== real && !resolved.startsWith(real + path.sep)) {
        throw templateError(`template '${name}' in '${dir}' is a link that resolves outside the template directory; refused`);
      }
      const stat = fs.statSync(resolved);
      if (!stat.isFile()) continue;
      // Jinja drops a single trailing newline of every template source (keep_trailing_newline=False).
      const src = fs.readFileSync(resolved, 'utf8').replace(/\r?\n$/, '');
      this.loaded.set(name, { fullPath: resolved, mtimeMs: stat.mtimeMs });
      return { src, path: name, noCache: false };
    }
    return null;
  }

  /** `./x` and `../x` inside a template are relative to that template's name, still inside the directories. */
  resolve(parentName: string, filename: string): string {
    const joined = path.posix.join(path.posix.dirname(parentName), filename);
    if (joined.startsWith('../') || joined === '..') {
      throw templateError(`template '${filename}' referenced from '${parentName}' reaches outside the template directories`);
    }
    return joined;
  }

  isRelative(filename: string): boolean {
    return filename.startsWith('./') || filename.startsWith('../');
  }

  /** Drops compiled templates whose file changed or disappeared since it was compiled. */
  refresh(): void {
    for (const [name, src] of this.loaded) {
      let mtime = -1;
      try {
        mtime = fs.statSync(src.fullPath).mtimeMs;
      } catch {
        /* gone: recompile (and fail or fall through to the next directory) */
      }
      if (mtime !== src.mtimeMs) {
        delete this.cache[name];
        this.loaded.delete(name);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Nunjucks hooks. Active only for environments created here (marked by AUTOESCAPE_MARK), so any
// other nunjucks user in the same process is unaffected.

const AUTOESCAPE_MARK = Object.freeze({ temporalK8sJobs: true });

interface RenderState {
  env: nunjucks.Environment;
  lastLookup?: { path: string; value: unknown };
  /** The innermost template an error happened in (nunjucks re-creates error objects on the way out). */
  errorTemplate?: string;
  /**
   * Text produced in this render by the template itself: `{% set %}` captures, macro output and this
   * module's yaml/tojson filters. Only such text, unchanged, is printed without being wrapped as a value.
   */
  trusted: Set<string>;
}
let active: RenderState | undefined;

// Nunjucks' runtime and Template are CommonJS objects; the typings do not list everything patched here.
/* eslint-disable @typescript-eslint/no-explicit-any */
const nj = nunjucks as any;
const runtime = nj.runtime as any;
const SafeString = runtime.SafeString as new (s: string) => { toString(): string };

function markedJson(text: string): unknown {
  const marked = JSON_OPEN + text + CLOSE;
  active?.trusted.add(marked);
  return new SafeString(marked);
}

function stripMarks<T>(v: T): T {
  if (typeof v === 'string') return v.replace(SLOT_RE, '$2').replace(RESERVED_G, '') as T;
  if (Array.isArray(v)) return v.map(stripMarks) as T;
  if (v && typeof v === 'object' && !(v instanceof SafeString)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, stripMarks(x)])) as T;
  }
  if (v instanceof SafeString) return stripMarks(v.toString()) as T;
  return v;
}

/**
 * The hooks below replace nunjucks internals (runtime functions, the compiler's capture, Template's
 * compile), so they are written for one nunjucks release: package.json pins it exactly, and another
 * one (an npm override, a hoisted copy) is refused before any template renders rather than trusted.
 */
const NUNJUCKS_VERSION = '3.2.4';

let hooksInstalled = false;
function installHooks(): void {
  if (hooksInstalled) return;
  const found = (createRequire(import.meta.url)('nunjucks/package.json') as { version?: string }).version;
  if (found !== NUNJUCKS_VERSION) {
    throw templateError(`the template renderer is built on nunjucks ${NUNJUCKS_VERSION} internals, but nunjucks ${found ?? '(unknown)'} is installed; install ${NUNJUCKS_VERSION}`);
  }
  hooksInstalled = true;
  // Python-style members ({% for k, v in env.items() %}, list slices, True/False/None) as in Jinja.
  nj.installJinjaCompat();
  const orig = {
    suppressValue: runtime.suppressValue,
    ensureDefined: runtime.ensureDefined,
    contextOrFrameLookup: runtime.contextOrFrameLookup,
    memberLookup: runtime.memberLookup,
  };
  runtime.suppressValue = function (val: unknown, autoescape: unknown) {
    if (autoescape !== AUTOESCAPE_MARK) return orig.suppressValue(val, autoescape);
    // Template-made text (a capture, a macro's output, a yaml/tojson result), unchanged: its values are
    // already marked inside. Anything else, including "safe" strings a filter derived from it, is a value.
    if (val instanceof SafeString && active?.trusted.has(val.toString())) return val;
    if (val instanceof SafeString) val = val.toString();
    if (val === undefined || val === null) val = '';
    if (typeof val === 'object' || typeof val === 'function') {
      throw new Error(
        `cannot print a ${Array.isArray(val) ? 'list' : 'mapping'} directly${active?.lastLookup ? ` ('${active.lastLookup.path}')` : ''}; use '| tojson' or '| yaml'`,
      );
    }
    // Jinja prints Python's True/False; YAML reads both spellings as booleans.
    let s = typeof val === 'boolean' ? (val ? 'True' : 'False') : String(val);
    if (RESERVED.test(s)) {
      if (active?.trusted.has(s)) return s;
      // Template text changed by a filter (cut, replaced into...): no longer trusted, so the whole of it
      // is one value. Structure inside it then fails the check instead of slipping through.
      s = s.replace(SLOT_RE, '$2').replace(RESERVED_G, '');
    }
    return TEXT_OPEN + s + CLOSE;
  };
  // Captures ({% set x %}...{% endset %}) and macro output are template-made: record them as trusted.
  runtime.tkjTrusted = (s: unknown) => {
    if (active && typeof s === 'string') active.trusted.add(s);
    return s;
  };
  const BaseSafeString = runtime.SafeString;
  runtime.SafeString = class TrustedSafeString extends BaseSafeString {
    constructor(v: string) {
      super(v);
      if (active) active.trusted.add(String(v));
    }
  };
  const compilerProto = nj.compiler.Compiler.prototype;
  const origCompileCapture = compilerProto.compileCapture;
  compilerProto.compileCapture = function (this: any, node: unknown, frame: unknown) {
    this._emit('runtime.tkjTrusted(');
    origCompileCapture.call(this, node, frame);
    this._emit(')');
  };
  runtime.ensureDefined = function (val: unknown, lineno: number, colno: number) {
    if (active && (val === undefined || val === null)) {
      const name = active.lastLookup?.path;
      const what = val === null ? 'is null' : 'is undefined';
      throw new nj.lib.TemplateError(name ? `'${name}' ${what}` : `a value ${what}`, lineno + 1, colno + 1);
    }
    return orig.ensureDefined(val, lineno, colno);
  };
  runtime.contextOrFrameLookup = function (context: any, frame: unknown, name: string) {
    const v = orig.contextOrFrameLookup(context, frame, name);
    if (active && context?.env === active.env) active.lastLookup = { path: name, value: v };
    return v;
  };
  runtime.memberLookup = function (this: unknown, obj: unknown, key: unknown, ...rest: unknown[]) {
    const v = orig.memberLookup.call(this, obj, key, ...rest);
    if (active?.lastLookup && active.lastLookup.value === obj) {
      active.lastLookup = { path: `${active.lastLookup.path}.${String(key)}`, value: v };
    }
    return v;
  };
  // Attribute errors to the template they happen in (nunjucks names the outermost one for extends).
  const origCompile = nj.Template.prototype._compile;
  nj.Template.prototype._compile = function (this: any, ...args: unknown[]) {
    origCompile.apply(this, args);
    if (this.env?.opts?.autoescape !== AUTOESCAPE_MARK) return;
    const name: string = this.path;
    const wrap =
      (fn: (...a: any[]) => unknown) =>
      (env: unknown, context: unknown, frame: unknown, rt: unknown, cb: (err: any, res?: unknown) => void) =>
        fn(env, context, frame, rt, (err: any, res?: unknown) => {
          if (err && active && active.errorTemplate === undefined) active.errorTemplate = name;
          cb(err, res);
        });
    this.rootRenderFunc = wrap(this.rootRenderFunc);
    for (const k of Object.keys(this.blocks ?? {})) this.blocks[k] = wrap(this.blocks[k]);
  };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/**
 * JSON exactly as Jinja's `tojson` writes it (Python's json.dumps with sorted keys, ', ' and ': '
 * separators, ASCII only, and `<>&'` escaped), so templates render the same bytes under both. The
 * output is one line of JSON, which YAML reads as the same value.
 */
export function toJsonText(value: unknown): string {
  const v = stripMarks(value);
  if (v === undefined) throw new Error('tojson: the value is undefined');
  return pyJson(v);
}

function pyJson(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string') return pyString(v);
  if (Array.isArray(v)) return `[${v.map(pyJson).join(', ')}]`;
  if (v instanceof Date) return pyString(v.toISOString());
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${pyString(k)}: ${pyJson(o[k])}`)
      .join(', ')}}`;
  }
  return pyString(String(v));
}

const PY_ESCAPES: Record<string, string> = { '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };
function pyString(s: string): string {
  // Unlike Python, characters beyond U+FFFF stay raw: YAML readers other than js-yaml (kubectl's go-yaml)
  // refuse the surrogate-pair escapes ("\\ud83c\\udf89") that json.dumps writes for them.
  return `"${s.replace(/[\ud800-\udbff][\udc00-\udfff]|[\\"<>&']|[^\x20-\x7e]/g, (c) =>
    c.length === 2 ? c : (PY_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
  )}"`;
}

function toYamlFlow(value: unknown): string {
  const text = yaml.dump(stripMarks(value), { flowLevel: 0, lineWidth: -1, noRefs: true }).replace(/\n$/, '');
  // A multi-line result (block scalars) cannot sit inside a line; fall back to JSON, which YAML reads the same.
  return text.includes('\n') ? toJsonText(value) : text;
}

/** `result` of a whitespace-only filter, template-made (trusted) when its input was. */
function keepTrust(input: unknown, result: string): unknown {
  if (active && input !== undefined && input !== null && active.trusted.has(String(input))) {
    active.trusted.add(result);
    return new SafeString(result);
  }
  return result;
}

/** Positional and keyword arguments of `indent(width=4, first=False, blank=False)`, as Jinja2 names them. */
function indentArgs(args: unknown[]): [number | string, boolean, boolean] {
  const last = args[args.length - 1] as Record<string, unknown> | undefined;
  const kw = last && typeof last === 'object' && (last as { __keywords?: boolean }).__keywords ? (args.pop() as Record<string, unknown>) : {};
  const [width = kw.width ?? 4, first = kw.first ?? kw.indentfirst ?? false, blank = kw.blank ?? false] = args;
  return [width as number | string, Boolean(first), Boolean(blank)];
}

/**
 * Jinja2's `indent`: every line but the first (unless `first`) gets `width` spaces (or the `width`
 * string); blank lines stay empty unless `blank`. Lines are split as Python's `str.splitlines` splits them.
 */
function jinjaIndent(text: string, width: number | string = 4, first = false, blank = false): string {
  const pad = typeof width === 'string' ? width : ' '.repeat(Math.max(0, Math.trunc(Number(width) || 0)));
  // Python appends a newline before splitlines() so that a trailing newline survives. These are its breaks.
  // eslint-disable-next-line no-control-regex
  const lines = `${text}\n`.split(/\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/);
  lines.pop();
  let out: string;
  if (blank) out = lines.join(`\n${pad}`);
  else {
    out = lines.shift() ?? '';
    if (lines.length) out += `\n${lines.map((l) => (l ? pad + l : l)).join('\n')}`;
  }
  return first ? pad + out : out;
}

/** Jinja2's `trim(chars=None)`: Python's `str.strip`, of whitespace or of the given characters. */
function jinjaTrim(text: string, chars: unknown): string {
  if (typeof chars !== 'string' || chars === '') return text.trim();
  const set = new Set(chars);
  let start = 0;
  let end = text.length;
  while (start < end && set.has(text[start]!)) start++;
  while (end > start && set.has(text[end - 1]!)) end--;
  return text.slice(start, end);
}

function b64(value: unknown): string {
  return Buffer.from(String(stripMarks(value ?? '')), 'utf8').toString('base64');
}

function createEnvironment(dirs: readonly string[]): { env: nunjucks.Environment; loader: SafeLoader } {
  installHooks();
  const resolved = dirs.map((dir) => {
    let real: string;
    try {
      real = fs.realpathSync(dir);
    } catch {
      throw templateError(`template directory '${dir}' does not exist`);
    }
    if (!fs.statSync(real).isDirectory()) throw templateError(`template directory '${dir}' is not a directory`);
    return { dir, real };
  });
  const loader = new SafeLoader(resolved);
  const env = new nunjucks.Environment(loader as unknown as nunjucks.ILoader, {
    autoescape: AUTOESCAPE_MARK as unknown as boolean,
    throwOnUndefined: true,
  });
  env.addFilter('tojson', (v: unknown) => markedJson(toJsonText(v)));
  env.addFilter('dump', (v: unknown, spaces?: number) =>
    markedJson(
      JSON.stringify(stripMarks(v), null, spaces)
        .replace(/\n\s*/g, ' ')
        // JSON leaves these raw; YAML 1.1 readers would break the line there (see YAML11_DIFFERENT).
        .replace(/[\u0085\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    ),
  );
  // `{{ image | required }}` or `{{ image | required("the container image") }}`: a clear error when missing.
  env.addFilter('required', (v: unknown, what?: string) => {
    if (v === undefined || v === null || v === '') {
      const name = active?.lastLookup?.path ?? 'a value';
      throw new Error(`missing required value '${name}'${what ? ` (${what})` : ''}; set it with --set ${name}=... or in a values file`);
    }
    return v;
  });
  env.addFilter('yaml', (v: unknown) => markedJson(toYamlFlow(v)));
  // Re-indenting or trimming template-made text (a macro's output, a `{% filter %}` body) keeps it
  // template-made: only whitespace outside the values changes, and the values inside stay marked and
  // checked. Without this, `{{ macro() | indent(12) }}` would print the macro's YAML as one quoted value.
  env.addFilter('indent', (v: unknown, ...args: unknown[]) => keepTrust(v, jinjaIndent(String(v ?? ''), ...indentArgs(args))));
  env.addFilter('trim', (v: unknown, chars?: unknown) => keepTrust(v, jinjaTrim(String(v ?? ''), chars)));
  env.addFilter('b64encode', (v: unknown) => b64(v));
  for (const name of ['e', 'escape', 'forceescape']) {
    env.addFilter(name, () => {
      throw new Error(`the '${name}' filter (HTML escaping) is not available in manifest templates; values are quoted for YAML automatically`);
    });
  }
  env.addFilter('safe', () => {
    throw new Error("the 'safe' filter is not available in manifest templates: values may not inject YAML; use '| yaml' or '| tojson'");
  });
  return { env, loader };
}

const environments = new Map<string, { env: nunjucks.Environment; loader: SafeLoader }>();

function environmentFor(templateDirs: readonly string[]): { env: nunjucks.Environment; loader: SafeLoader } {
  const dirs = [...templateDirs.map((d) => path.resolve(d)), PACKAGE_TEMPLATES_DIR];
  const key = dirs.join('\0');
  let entry = environments.get(key);
  if (!entry) {
    entry = createEnvironment(dirs);
    environments.set(key, entry);
  }
  entry.loader.refresh();
  return entry;
}

// ---------------------------------------------------------------------------------------------
// Slots and their YAML context.

type SlotContext = 'plain' | 'double' | 'single' | 'block' | 'comment';
interface Slot {
  kind: 'text' | 'json';
  value: string;
  context: SlotContext;
  /** Plain slot that is a whole scalar (so it may be quoted without changing the template's intent). */
  whole: boolean;
  /** Inside a flow collection ([...] or {...}). */
  flow: boolean;
}
type Part = string | Slot;

function unbalanced(template: string): KubernetesJobsError {
  return templateError(`template '${template}': a filter cut through a value inside captured text (truncate, slice...); apply the filter to the value itself`);
}

function splitSlots(marked: string, template: string): Part[] {
  const parts: Part[] = [];
  let last = 0;
  const text = (t: string) => {
    if (RESERVED.test(t)) throw unbalanced(template);
    return t;
  };
  for (const m of marked.matchAll(SLOT_RE)) {
    if (m.index > last) parts.push(text(marked.slice(last, m.index)));
    parts.push({ kind: m[1] === JSON_OPEN ? 'json' : 'text', value: m[2] ?? '', context: 'plain', whole: false, flow: false });
    last = m.index + m[0].length;
  }
  if (last < marked.length) parts.push(text(marked.slice(last)));
  return parts;
}

/** After these a new scalar may start at once; `:`, `-` and `?` are indicators only when a blank follows. */
const FLOW_START = new Set([',', '[', '{']);
const BLANK_INDICATORS = new Set([':', '-', '?']);

/** Finds each slot's YAML context by scanning the template text around it (slots are opaque). */
function scanContexts(parts: Part[]): void {
  type State = 'plain' | 'double' | 'single' | 'comment';
  let state: State = 'plain';
  let escaped = false;
  let lineIndent = 0; // indentation of the current line
  let atLineStart = true; // only spaces so far on this line
  let prevNonSpace = ''; // previous non-space char on this line ('' = none)
  let blankBefore = false; // the previous char on this line is a space or tab
  // Does a scalar start here? `pre-{{ v }}` and `pre-"x"` continue a scalar; `- {{ v }}` and `[{{ v }}` start one.
  const scalarStarts = () => FLOW_START.has(prevNonSpace) || (BLANK_INDICATORS.has(prevNonSpace) && blankBefore);
  let lineText = ''; // current line's content (slots as 'x'), to spot block scalar indicators
  let flowDepth = 0;
  let blockParentIndent = -1; // >= 0 while inside a block scalar
  let inBlockLine = false;
  let pendingWhole: Slot | null = null; // a slot that may be a whole scalar, decided by what follows

  const endLine = () => {
    if (state === 'comment') state = 'plain';
    if (!inBlockLine && state === 'plain' && flowDepth === 0) {
      const content = lineText.replace(/\s+#.*$/, '').trimEnd();
      if (/(^|[\s:-])[|>][+-]?[1-9]?[+-]?$/.test(content) && /(:\s+|^\s*-\s+|^\s*)[|>][+-]?[1-9]?[+-]?$/.test(content)) {
        blockParentIndent = lineIndent;
      }
    }
    lineIndent = 0;
    atLineStart = true;
    prevNonSpace = '';
    blankBefore = false;
    lineText = '';
    inBlockLine = false;
  };
  const decideWhole = (next: string) => {
    if (!pendingWhole) return;
    const flowEnd = pendingWhole.flow && (next === ',' || next === ']' || next === '}');
    pendingWhole.whole = next === '\n' || next === '' || next === '#' || next === ':' || flowEnd;
    pendingWhole = null;
  };

  for (const part of parts) {
    if (typeof part !== 'string') {
      if (pendingWhole) pendingWhole.whole = false; // two slots side by side: not a whole scalar each
      pendingWhole = null;
      if (atLineStart && blockParentIndent >= 0) {
        if (lineIndent > blockParentIndent) inBlockLine = true;
        else blockParentIndent = -1;
      }
      part.flow = flowDepth > 0;
      if (inBlockLine) part.context = 'block';
      else if (state === 'double' || state === 'single' || state === 'comment') part.context = state;
      else {
        part.context = 'plain';
        if (atLineStart || scalarStarts()) pendingWhole = part;
      }
      atLineStart = false;
      prevNonSpace = 'x';
      blankBefore = false;
      lineText += 'x';
      continue;
    }
    for (let i = 0; i < part.length; i++) {
      const c = part[i]!;
      if (pendingWhole) {
        if (c === ' ' || c === '\t') {
          // look further: "value  # comment" or trailing spaces still end the scalar
          let j = i;
          while (j < part.length && (part[j] === ' ' || part[j] === '\t')) j++;
          decideWhole(j >= part.length ? '' : part[j] === '#' ? '#' : part[j] === '\n' || part[j] === '\r' ? '\n' : part[j]!);
        } else decideWhole(c === '\r' ? '\n' : c);
      }
      if (c === '\n') {
        if (state === 'double' || state === 'single') {
          // multi-line quoted scalar: stays quoted
          lineIndent = 0;
          atLineStart = true;
          lineText = '';
          continue;
        }
        endLine();
        continue;
      }
      if (atLineStart && (c === ' ' || c === '\t')) {
        lineIndent++;
        lineText += c;
        continue;
      }
      if (atLineStart && blockParentIndent >= 0 && state === 'plain') {
        if (lineIndent > blockParentIndent) inBlockLine = true;
        else blockParentIndent = -1;
      }
      const wasLineStart = atLineStart;
      atLineStart = false;
      lineText += c;
      if (inBlockLine) continue;
      switch (state) {
        case 'double':
          if (escaped) escaped = false;
          else if (c === '\\') escaped = true;
          else if (c === '"') state = 'plain';
          break;
        case 'single':
          if (c === "'") {
            if (part[i + 1] === "'") {
              i++;
              lineText += "'";
            } else state = 'plain';
          }
          break;
        case 'comment':
          break;
        case 'plain':
          if ((c === '"' || c === "'") && (wasLineStart || scalarStarts())) state = c === '"' ? 'double' : 'single';
          else if (c === '#' && (wasLineStart || blankBefore)) state = 'comment';
          else if ((c === '[' || c === '{') && (wasLineStart || scalarStarts())) flowDepth++;
          else if ((c === ']' || c === '}') && flowDepth > 0) flowDepth--;
          break;
      }
      if (c !== ' ' && c !== '\t') prevNonSpace = c;
      blankBefore = c === ' ' || c === '\t';
    }
  }
  decideWhole('');
}

const plainSafeCache = new Map<string, boolean>();
/** Does `value` read back as exactly itself when written as a plain scalar? */
function plainSafe(value: string, flow: boolean): boolean {
  const key = (flow ? 'f' : 'b') + value;
  let ok = plainSafeCache.get(key);
  if (ok === undefined) {
    try {
      if (value === '' || /[\r\n\u0085\u2028\u2029]/.test(value)) ok = false;
      else if (flow) ok = deepEqual(yaml.load(`[${value}]`, { schema: yaml.FAILSAFE_SCHEMA }), [value]);
      else ok = deepEqual(yaml.load(`k: ${value}`, { schema: yaml.FAILSAFE_SCHEMA }), { k: value });
    } catch {
      ok = false;
    }
    if (plainSafeCache.size > 10_000) plainSafeCache.clear();
    plainSafeCache.set(key, ok);
  }
  return ok;
}

function escapeDouble(s: string): string {
  // Control characters are exactly what must be escaped here.
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\\"\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, (c) => {
    switch (c) {
      case '\\':
        return '\\\\';
      case '"':
        return '\\"';
      case '\n':
        return '\\n';
      case '\t':
        return '\\t';
      case '\r':
        return '\\r';
      default:
        return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
    }
  });
}

/** The text a slot contributes to the real document. */
function slotOutput(slot: Slot): string {
  if (slot.kind === 'json') return slot.value;
  switch (slot.context) {
    case 'double':
      return escapeDouble(slot.value);
    case 'single':
      return slot.value.replace(/'/g, "''");
    case 'plain':
      return slot.whole && (!plainSafe(slot.value, slot.flow) || changesMeaning(slot.value)) ? `"${escapeDouble(slot.value)}"` : slot.value;
    default:
      return slot.value;
  }
}

// ---------------------------------------------------------------------------------------------
// Structure check.

const TOKEN_RE = /Qz9tkjslot(\d+)Qz9/g;
const token = (i: number) => `Qz9tkjslot${i}Qz9`;

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual((a as never)[k], (b as never)[k]));
  }
  return false;
}

// Block scalars strip indentation that `indent` adds; compare multi-line text modulo line-leading blanks.
const looseLines = (s: string) => s.replace(/\n[ \t]+/g, '\n');

interface Mismatch {
  path: string;
  slots: number[];
}

function slotsIn(node: unknown, into: Set<number>): void {
  if (typeof node === 'string') for (const m of node.matchAll(TOKEN_RE)) into.add(Number(m[1]));
  else if (Array.isArray(node)) node.forEach((n) => slotsIn(n, into));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      slotsIn(k, into);
      slotsIn(v, into);
    }
  }
}

/**
 * The key a probe key stands for. A key that is one yaml/tojson output (`{{ k | tojson }}: v`) is the
 * scalar that output reads as; a mapping or list there is not a key (returns a key no tree holds).
 */
function expectedKey(probeKey: string, slots: Slot[]): string {
  const whole = /^Qz9tkjslot(\d+)Qz9$/.exec(probeKey);
  const slot = whole ? slots[Number(whole[1])]! : undefined;
  if (slot?.kind === 'json') {
    let v: unknown;
    try {
      v = yaml.load(slot.value, { schema: yaml.FAILSAFE_SCHEMA });
    } catch {
      v = undefined;
    }
    return typeof v === 'string' ? v : probeKey;
  }
  return probeKey.replace(TOKEN_RE, (_, i: string) => slots[Number(i)]!.value);
}

function compareTrees(probe: unknown, real: unknown, slots: Slot[], where: string): Mismatch | null {
  const fail = (): Mismatch => {
    const s = new Set<number>();
    slotsIn(probe, s);
    return { path: where, slots: [...s] };
  };
  if (typeof probe === 'string') {
    const whole = /^Qz9tkjslot(\d+)Qz9$/.exec(probe);
    if (whole && slots[Number(whole[1])]!.kind === 'json') {
      const slot = slots[Number(whole[1])]!;
      let expected: unknown;
      try {
        expected = yaml.load(slot.value, { schema: yaml.FAILSAFE_SCHEMA });
      } catch {
        return fail();
      }
      return deepEqual(expected, real) ? null : fail();
    }
    if (typeof real !== 'string') return fail();
    const expected = probe.replace(TOKEN_RE, (_, i: string) => slots[Number(i)]!.value);
    return expected === real || looseLines(expected) === looseLines(real) ? null : fail();
  }
  if (probe === null || probe === undefined) return real === probe ? null : fail();
  if (Array.isArray(probe)) {
    if (!Array.isArray(real) || real.length !== probe.length) return fail();
    for (let i = 0; i < probe.length; i++) {
      const m = compareTrees(probe[i], real[i], slots, `${where}[${i}]`);
      if (m) return m;
    }
    return null;
  }
  if (typeof real !== 'object' || real === null || Array.isArray(real)) return fail();
  const realObj = real as Record<string, unknown>;
  const probeEntries = Object.entries(probe as Record<string, unknown>);
  if (probeEntries.length !== Object.keys(realObj).length) return fail();
  for (const [pk, pv] of probeEntries) {
    const key = expectedKey(pk, slots);
    if (!Object.prototype.hasOwnProperty.call(realObj, key)) {
      const s = new Set<number>();
      slotsIn(pk, s);
      return { path: `${where}.${key}`, slots: s.size ? [...s] : fail().slots };
    }
    const m = compareTrees(pv, realObj[key], slots, where ? `${where}.${key}` : key);
    if (m) return m;
  }
  return null;
}

const probeCache = new Map<string, unknown[]>();
function parseProbe(text: string): unknown[] {
  let docs = probeCache.get(text);
  if (!docs) {
    docs = yaml.loadAll(text, { schema: yaml.FAILSAFE_SCHEMA });
    if (probeCache.size > 256) probeCache.delete(probeCache.keys().next().value!);
    probeCache.set(text, docs);
  }
  return docs;
}

const SUSPICIOUS = /[\n\r:#\-{}[\],&*!|>'"%@`\\\u2028\u2029]|^\s|\s$|^$/;

function describeValue(value: string, values: Record<string, unknown>): string {
  // JSON, with the characters it leaves raw but a terminal does not show (C1 controls, U+2028/9) escaped.
  const json = (v: string) => JSON.stringify(v).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const shown = value.length > 60 ? `${json(value.slice(0, 57))}...` : json(value);
  const where = findValuePath(values, value);
  return where ? `value ${shown} (${where})` : `value ${shown}`;
}

function findValuePath(values: unknown, needle: string, prefix = ''): string | undefined {
  if (typeof values === 'string') return values === needle || (needle.length > 3 && values.includes(needle)) ? prefix : undefined;
  if (Array.isArray(values)) {
    for (let i = 0; i < values.length; i++) {
      const p = findValuePath(values[i], needle, `${prefix}[${i}]`);
      if (p !== undefined) return p;
    }
  } else if (values && typeof values === 'object') {
    for (const [k, v] of Object.entries(values)) {
      const p = findValuePath(v, needle, prefix ? `${prefix}.${k}` : k);
      if (p !== undefined) return p;
    }
  }
  return undefined;
}

function lineAt(text: string, line: number): string {
  return (text.split('\n')[line] ?? '').trim().slice(0, 120);
}

function unsafeValueError(template: string, slot: Slot, values: Record<string, unknown>, where: string, why?: string): KubernetesJobsError {
  const hint =
    why ??
    (slot.kind === 'json'
      ? 'the serialised value does not fit where it is placed (a yaml/tojson output inside quotes?)'
      : slot.context === 'single'
        ? 'it cannot be written inside single quotes; use double quotes in the template'
        : slot.context === 'block' || slot.context === 'comment'
          ? "it would leave its block; use '| indent(N)' for multi-line text or '| tojson'"
          : `quote it in the template ("{{ ... }}") or use '| tojson'`);
  return templateError(
    `template '${template}': ${describeValue(slot.value, values)} would change the manifest's structure${where ? ` at ${where}` : ''}: ${hint}`,
    { template, value: slot.value, context: slot.context },
  );
}

// ---------------------------------------------------------------------------------------------
// Rendering.

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function checkValues(values: unknown, at = 'values'): void {
  if (typeof values === 'string') {
    if (RESERVED.test(values)) throw templateError(`${at} contains a private-use character (U+E000-U+E003) reserved by the renderer`);
    // No UTF-8 file can hold it, and kubectl refuses its escape.
    if (LONE_SURROGATE.test(values)) throw templateError(`${at} is not valid Unicode (it holds a lone UTF-16 surrogate)`);
  } else if (Array.isArray(values)) values.forEach((v, i) => checkValues(v, `${at}[${i}]`));
  else if (values && typeof values === 'object') {
    for (const [k, v] of Object.entries(values)) {
      if (RESERVED.test(k)) throw templateError(`a key in ${at} contains a private-use character (U+E000-U+E003) reserved by the renderer`);
      checkValues(v, `${at}.${k}`);
    }
  }
}

function nunjucksError(err: unknown, template: string, state: RenderState): KubernetesJobsError {
  if (err instanceof KubernetesJobsError) return err;
  const raw = String((err as Error)?.message ?? err);
  // Nunjucks prefixes "(path) [Line N, Column M]" once per template it unwinds through; the innermost
  // line comes first, and the template it belongs to is recorded in the render state.
  const lineMatch = /\[Line (\d+), Column \d+\]/.exec(raw);
  const message = raw
    .replace(/(Template render error: )?\([^)\n]*\)( \[Line \d+, Column \d+\])?\s*\n\s*/g, '')
    .replace(/^(Template render error: )+/, '')
    .replace(/^(Error|TemplateError): /, '')
    .trim();
  const file = state.errorTemplate ?? /^\(([^)\n]*)\)/.exec(raw.replace(/^Template render error: /, ''))?.[1] ?? template;
  const line = lineMatch?.[1];
  const loc = line ? `${file}:${line}` : file;
  if (/template not found/i.test(message)) {
    const missing = (/template not found: (.*)$/i.exec(message)?.[1] ?? template).trim();
    return templateError(`template '${missing}' not found in the template directories${file !== missing ? ` (referenced from ${loc})` : ''}`, { template: file });
  }
  return templateError(`template ${loc}: ${message}`, { template: file, line: line ? Number(line) : undefined });
}

/**
 * Renders a template into validated manifests.
 *
 * @example
 * const { job, companions, yaml } = renderTemplate('job.yaml.njk', {
 *   values: { image: 'busybox:1.36', command: ['echo', 'hello'] },
 * });
 * @throws KubernetesJobsError of type `TemplateError` (template not found, syntax, undefined variable,
 *   unsafe value, YAML) or `InvalidManifest` (no Job, forbidden kind, bad restartPolicy...).
 */
export function renderTemplate(template: string, options: RenderOptions = {}): RenderResult {
  const name = normaliseTemplateName(template);
  const values = options.values ?? {};
  checkValues(values);
  const { env } = environmentFor(options.templateDirs ?? []);
  let marked: string;
  const state: RenderState = { env, trusted: new Set() };
  const previous = active;
  active = state;
  try {
    marked = env.render(name, values);
  } catch (err) {
    throw nunjucksError(err, name, state);
  } finally {
    active = previous;
  }
  const { text, docs } = checkStructure(marked, name, values);
  const validated = validateManifests(docs as KubernetesObject[], { template: name, allowedKinds: options.allowedKinds });
  const yamlText = text.endsWith('\n') ? text : `${text}\n`;
  const result: RenderResult = { template: name, yaml: yamlText, ...validated };
  if (options.writeTo) result.writtenTo = writeRendered(options.writeTo, fileNameFor(validated.job.metadata?.name, name), yamlText);
  return result;
}

function fileNameFor(jobName: string | undefined, template: string): string {
  const base = jobName ?? path.posix.basename(template).replace(/\.(njk|j2|jinja2?)$/, '').replace(/\.ya?ml$/, '');
  return `${base.replace(/[^A-Za-z0-9._-]/g, '_')}.yaml`;
}

/** Writes rendered YAML to `dir/fileName` (creating `dir`), returning the file's path. */
export function writeRendered(dir: string, fileName: string, yamlText: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, path.basename(fileName));
  fs.writeFileSync(file, yamlText);
  return file;
}

/**
 * Characters on which kubectl's reading and the renderer's differ. kubectl reads manifests with go-yaml
 * (through sigs.k8s.io/yaml), a YAML 1.1 reader:
 * - NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR are line breaks for it and ordinary text for js-yaml
 *   (YAML 1.2), so in a comment, a block scalar, a plain or a single-quoted scalar one of them ends
 *   the line there and can start structure that js-yaml never sees;
 * - outside tab, LF, CR, NEL and the printable ranges it refuses the whole file ("control characters
 *   are not allowed"), where js-yaml lets some through (in comments, for example).
 */
const YAML11_BREAK = /[\u0085\u2028\u2029]/;
const YAML11_DIFFERENT = /[\u0085\u2028\u2029]|[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u;

/**
 * The rendered text may hold none of {@link YAML11_DIFFERENT} raw, so that js-yaml and kubectl agree on
 * where every line ends and both read the file. Values keep such characters only escaped: in double
 * quotes (`\u2028`), as a whole plain scalar (which is then double-quoted), or through `tojson`/`yaml`.
 * Anywhere else the render fails, naming the value, or the template line when the template's own text
 * holds one.
 */
function checkYaml11Text(real: string, ranges: { start: number; end: number; slot: number }[], slots: Slot[], template: string, values: Record<string, unknown>): void {
  const found = YAML11_DIFFERENT.exec(real);
  if (!found) return;
  const hex = found[0].codePointAt(0)!.toString(16).padStart(4, '0');
  const code = `U+${hex.toUpperCase()}`;
  const what = YAML11_BREAK.test(found[0]) ? `${code}, a line break for YAML 1.1 readers such as kubectl` : `${code}, a character kubectl refuses unescaped`;
  const range = ranges.find((r) => found.index >= r.start && found.index < r.end);
  if (range) {
    throw unsafeValueError(template, slots[range.slot]!, values, '', `it holds ${what}, which only double quotes can escape; write "{{ ... }}" in the template or use '| tojson'`);
  }
  const line = real.slice(0, found.index).split('\n').length;
  throw templateError(`template '${template}': rendered line ${line} holds ${what}, in the template's own text; write it as "\\u${hex}" inside double quotes`, {
    template,
    line,
  });
}

function checkStructure(marked: string, template: string, values: Record<string, unknown>): { text: string; docs: unknown[] } {
  const parts = splitSlots(marked, template);
  const slots = parts.filter((p): p is Slot => typeof p !== 'string');
  if (slots.length === 0) {
    checkYaml11Text(marked, [], slots, template, values);
    return { text: marked, docs: parseReal(marked, template) };
  }
  scanContexts(parts);
  let real = '';
  let probe = '';
  const ranges: { start: number; end: number; slot: number }[] = [];
  let n = 0;
  for (const p of parts) {
    if (typeof p === 'string') {
      real += p;
      probe += p;
    } else {
      const out = slotOutput(p);
      ranges.push({ start: real.length, end: real.length + out.length, slot: n });
      real += out;
      probe += token(n++);
    }
  }
  checkYaml11Text(real, ranges, slots, template, values);
  let probeDocs: unknown[];
  try {
    probeDocs = parseProbe(probe);
  } catch (err) {
    // The template's own YAML is broken, whatever the values.
    throw yamlError(err, real, template);
  }
  let realDocs: unknown[];
  try {
    realDocs = yaml.loadAll(real, { schema: yaml.FAILSAFE_SCHEMA });
  } catch (err) {
    const pos = (err as yaml.YAMLException).mark?.position ?? real.length;
    const before = ranges.filter((r) => r.start <= pos);
    const blamed = [...before].reverse().find((r) => SUSPICIOUS.test(slots[r.slot]!.value)) ?? before[before.length - 1];
    if (blamed) throw unsafeValueError(template, slots[blamed.slot]!, values, '');
    throw yamlError(err, real, template);
  }
  if (probeDocs.length !== realDocs.length) {
    const blamed = slots.find((s) => /(^|\n)(---|\.\.\.)/.test(s.value)) ?? slots.find((s) => SUSPICIOUS.test(s.value));
    throw unsafeValueError(template, blamed ?? slots[0]!, values, 'the document list');
  }
  for (let d = 0; d < probeDocs.length; d++) {
    const m = compareTrees(probeDocs[d], realDocs[d], slots, '');
    if (m) {
      const candidates = m.slots.map((i) => slots[i]!);
      const blamed = candidates.find((s) => SUSPICIOUS.test(s.value)) ?? candidates[0] ?? slots.find((s) => SUSPICIOUS.test(s.value)) ?? slots[0]!;
      throw unsafeValueError(template, blamed, values, `document ${d + 1}${m.path ? ` '${m.path}'` : ''}`);
    }
  }
  return { text: real, docs: parseReal(real, template) };
}

/**
 * A plain scalar that starts with a digit or a sign, read as a number the way go-yaml v2 (kubectl's
 * reader, through sigs.k8s.io/yaml) reads it: underscores dropped, then Go's integer syntax (`0x1F`,
 * `0o17`, `0b101`, a leading zero for octal as in `defaultMode: 0644`), then a YAML-style float.
 */
function goYamlNumber(s: string): number | typeof yaml.NOT_RESOLVED {
  const p = s.replace(/_/g, '');
  const int = /^([-+]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|0([0-7]+)|([1-9][0-9]*|0))$/.exec(p);
  if (int) {
    const [, sign, hex, oct, bin, legacyOct, dec] = int;
    const n = hex ? parseInt(hex, 16) : oct ? parseInt(oct, 8) : bin ? parseInt(bin, 2) : legacyOct ? parseInt(legacyOct, 8) : parseInt(dec!, 10);
    return sign === '-' ? -n : n;
  }
  return /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(p) ? parseFloat(p) : yaml.NOT_RESOLVED;
}

/**
 * Manifests are read the way kubectl reads them (YAML 1.1 style): yes/no/on/off/y/n are booleans and
 * numbers are go-yaml's ({@link goYamlNumber}); otherwise YAML 1.2's core schema (no timestamps, no
 * sexagesimal numbers). test/integration/render-kubectl.test.ts checks this against kubectl itself.
 */
const KUBE_SCHEMA = yaml.CORE_SCHEMA.withTags(
  yaml.boolYaml11Tag,
  yaml.defineScalarTag('tag:yaml.org,2002:int', {
    implicit: true,
    implicitFirstChars: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '-', '+'],
    resolve: goYamlNumber,
    identify: () => false,
  }),
);

/**
 * Does a string value, written as a whole plain scalar, read back as something it does not say: null
 * (`~`, `null`), a YAML 1.1 boolean (`no`, `on`: the "Norway problem") or a non-finite number (`.inf`)?
 * Such values are quoted. `true`/`false` and numbers keep their YAML type, as Jinja + YAML would.
 */
const meaningCache = new Map<string, boolean>();
function changesMeaning(value: string): boolean {
  let changes = meaningCache.get(value);
  if (changes === undefined) {
    let v: unknown;
    try {
      v = (yaml.load(`k: ${value}`, { schema: KUBE_SCHEMA }) as { k?: unknown } | null)?.k;
    } catch {
      v = value;
    }
    // `<<` is a merge key for kubectl's reader (YAML 1.1), a plain string for js-yaml's core schema.
    changes = value === '<<' || v === null || (typeof v === 'boolean' && !/^(true|false|True|False|TRUE|FALSE)$/.test(value)) || (typeof v === 'number' && !Number.isFinite(v));
    if (meaningCache.size > 10_000) meaningCache.clear();
    meaningCache.set(value, changes);
  }
  return changes;
}

function parseReal(text: string, template: string): unknown[] {
  try {
    return yaml.loadAll(text, { schema: KUBE_SCHEMA });
  } catch (err) {
    throw yamlError(err, text, template);
  }
}

function yamlError(err: unknown, text: string, template: string): KubernetesJobsError {
  const e = err as yaml.YAMLException;
  const line = e.mark?.line;
  const docIndex = line === undefined ? undefined : text.split('\n').slice(0, line + 1).filter((l) => /^---(\s|$)/.test(l)).length + 1;
  const reason = e.reason ?? String((err as Error).message ?? err);
  const where = line === undefined ? '' : ` (document ${docIndex}, rendered line ${line + 1}: ${JSON.stringify(lineAt(text, line))})`;
  return templateError(`template '${template}' rendered invalid YAML${where}: ${reason}`, { template, line: line === undefined ? undefined : line + 1 });
}

/** Forgets compiled templates (all directories). Templates are also recompiled when their file changes. */
export function clearTemplateCache(): void {
  environments.clear();
  probeCache.clear();
}

/**
 * Whether a template name is found in the template directories (then the package's `templates/`),
 * by the same rules as rendering. Used to reject a DAG whose templates a worker lacks before it starts.
 * @returns undefined when found, else why not (not found, or a refused name)
 */
export function templateProblem(template: string, templateDirs: readonly string[] = []): string | undefined {
  try {
    return environmentFor(templateDirs).loader.getSource(template) ? undefined : `template '${template}' not found in the template directories`;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
