/** Clients for the HTTP tests: a raw HTTP/1.1 request (any Host, any header) and event-stream readers. */
import { Agent, get } from 'node:http';
import { connect } from 'node:net';

export interface RawAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** The body as JSON, or null when it is not JSON. */
  readonly json: Record<string, any> | null;
}

/**
 * Sends one request over a new TCP connection exactly as written (a browser's fetch would not let a
 * test choose Host), with `Connection: close`, and reads the whole answer.
 */
export function rawRequest(port: number, method: string, path: string, headers: Readonly<Record<string, string>>, body = ''): Promise<RawAnswer> {
  const head = Object.entries({ ...headers, 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close' })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(`${method} ${path} HTTP/1.1\r\n${head}\r\n${body}`));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const [statusLine = '', ...lines] = text.slice(0, split).split('\r\n');
      const fields = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      const rest = text.slice(split + 4);
      let json: Record<string, any> | null = null;
      try {
        json = JSON.parse(rest) as Record<string, any>;
      } catch {}
      resolve({ status: Number(statusLine.split(' ')[1]), headers: fields, body: rest, json });
    });
  });
}

export interface ParsedEvent {
  readonly id: string;
  readonly event: string;
  readonly data: string;
}

/** Reads server-sent events from a response body, one at a time. */
export function readEvents(res: Response) {
  const reader = (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  return {
    async next(): Promise<ParsedEvent> {
      for (;;) {
        const event = takeEvent();
        if (event !== null) return event;
        const { value, done } = await reader.read();
        if (done) throw new Error('the event stream ended');
        buffer += value;
      }
    },
    /** Stops reading: the server sees the client go. */
    cancel: () => reader.cancel().catch(() => {}),
    /** Resolves when the server ends the stream (normally or by closing the connection). */
    async ended(): Promise<void> {
      try {
        while (!(await reader.read()).done);
      } catch {}
    },
  };

  function takeEvent(): ParsedEvent | null {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end < 0) return null;
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (block.startsWith(':')) continue;
      const field = (name: string) => block.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2) ?? '';
      return { id: field('id'), event: field('event'), data: field('data') };
    }
  }
}

/**
 * An event stream opened as a browser tab opens one: over a keep-alive connection the client
 * keeps in its pool after the response ends (fetch's pool drops idle connections after 4 s; a
 * browser's keeps them for minutes).
 */
export function keepAliveStream(url: string) {
  const agent = new Agent({ keepAlive: true });
  let text = '';
  let ready: () => void = () => {};
  let ended: () => void = () => {};
  const state = {
    ready: new Promise<void>((resolve) => (ready = resolve)),
    ended: new Promise<void>((resolve) => (ended = resolve)),
    /** Closes the client's connections. */
    destroy: () => agent.destroy(),
  };
  get(url, { agent }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('event: ready')) ready();
    });
    res.on('end', ended);
    res.on('close', ended);
  }).on('error', ended);
  return state;
}
