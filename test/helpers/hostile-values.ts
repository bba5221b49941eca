/**
 * Values that try to change a manifest's structure from inside a template slot, shared by the render
 * tests (test/unit/render-values.test.ts, js-yaml) and the kubectl cross-check
 * (test/integration/render-kubectl.test.ts, kubectl's YAML 1.1 reader).
 */
export const HOSTILE: string[] = [
  'a: b', 'a:b', 'key: value\nother: x', '- item', '-', '---', '--- \nkind: Secret', '...', '{a: 1}', '[1, 2]',
  '{', '}', '[', ']', '# comment', 'a #b', 'a# b', '&anchor', '*alias', '!!binary', '!tag x', "it's", "'quoted'",
  '"dq"', 'back\\slash', '\\n literal', 'line1\nline2', 'trailing\n', '\r', 'cr\rlf', 'a\u2028b', 'a\u2029b',
  '\u0085nel', 'tab\there', ' leading', 'trailing ', '', '|', '>', '|\n  block', '%TAG ! x', '@at', '`tick',
  ',comma', 'a, b', '? q', '{{ 7*7 }}', '{% raw %}', 'x\n---\napiVersion: v1\nkind: Secret', '\ufeffbom',
  'emoji 🎉', 'a\tb: c', '"unterminated', "'unterminated", 'x\n  nested: true', '!!python/object:os.system',
  'a\u0000b', '\x7fdel', '0x1F', '<script>',
  // The cases of issue 9: YAML 1.1 line breaks followed by structure.
  'a\u2028  namespace: kube-system', 'a\u2029kind: Secret', 'a\u0085  namespace: kube-system',
];

/**
 * Ordinary-looking values whose YAML type differs between readers (YAML 1.1 booleans, octal, numbers
 * with underscores, sexagesimal, timestamps, null, infinities), for checking that a whole plain scalar
 * means the same to kubectl as to the renderer.
 */
export const TYPE_SENSITIVE: string[] = [
  'y', 'Y', 'n', 'N', 'yes', 'No', 'on', 'OFF', 'true', 'False', 'null', 'Null', '~', '12', '-7', '+12', '012', '0o17', '0x1F',
  '1_000', '1e3', '1.5', '.5', '6.', '.inf', '-.Inf', '.nan', '1:20', '190:20:30', '2026-01-01', '2026-01-01T10:00:00Z', '=', '<<', '0b101',
];
