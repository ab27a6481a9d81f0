/**
 * A strict reader of the Prometheus text exposition format (0.0.4), as promtool checks it:
 * HELP and TYPE lines before a family's samples, valid names, quoted escaped label values,
 * numeric values, families not interleaved. Throws on the first violation, naming the line.
 */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SUFFIXES: Readonly<Record<string, readonly string[]>> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
  counter: ['', '_total'],
};

export function parsePrometheus(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  let current: Family | null = null;
  const lines = text.split('\n');
  if (lines.at(-1) !== '') throw new Error('the exposition must end with a newline');
  lines.slice(0, -1).forEach((line, i) => {
    const where = `line ${i + 1}: ${line}`;
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) {
      const [, kind, name, ...rest] = line.split(' ');
      if (name === undefined || !NAME.test(name)) throw new Error(`bad metric name, ${where}`);
      if (current?.name !== name) {
        if (current !== null) closed.add(current.name);
        if (closed.has(name) || families.has(name)) throw new Error(`family ${name} appears twice, ${where}`);
        current = { name, type: 'untyped', help: '', samples: [] };
        families.set(name, current);
      }
      if (kind === 'TYPE') {
        const type = rest.join(' ');
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type)) throw new Error(`bad type, ${where}`);
        (current as { type: string }).type = type;
      } else (current as { help: string }).help = rest.join(' ');
      return;
    }
    if (line.startsWith('#') || line === '') return;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
    if (m === null) throw new Error(`not a sample, ${where}`);
    const [, name, , labelText, valueText] = m as unknown as [string, string, string, string | undefined, string];
    const family = current as Family | null;
    const suffixes = SUFFIXES[family?.type ?? ''] ?? [''];
    if (family === null || !suffixes.some((s) => `${family.name}${s}` === name)) throw new Error(`sample outside its family, ${where}`);
    const labels: Record<string, string> = {};
    if (labelText !== undefined && labelText !== '') {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/gy;
      let pos = 0;
      while (pos < labelText.length) {
        re.lastIndex = pos;
        const l = re.exec(labelText);
        if (l === null) throw new Error(`bad labels, ${where}`);
        labels[l[1] as string] = (l[2] as string).replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
        pos = re.lastIndex;
      }
    }
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : valueText === 'NaN' ? NaN : Number(valueText);
    if (Number.isNaN(value) && valueText !== 'NaN') throw new Error(`bad value, ${where}`);
    family.samples.push({ name, labels, value });
  });
  return families;
}

/** The value of the one sample of `name` whose labels include `labels`. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const family of families.values()) {
    for (const s of family.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}
