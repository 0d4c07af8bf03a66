import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Reads a request's whole body. */
export function readBody(req: IncomingMessage): Promise<Buffer<ArrayBuffer>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * The HTTP server behind an emulator or proxy, on 127.0.0.1 only: `handle` answers each request, and
 * `onError` answers one whose handling threw.
 */
export class LoopbackServer {
  private server: Server | undefined;

  constructor(
    private readonly handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
    private readonly onError: (error: Error, res: ServerResponse) => void,
  ) {}

  /** Listens on `port` (0: any free port); resolves with the base URL, `http://127.0.0.1:<port>`. */
  async listen(port = 0): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error) => this.onError(error as Error, res));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      // A busy port (EADDRINUSE) rejects instead of crashing the process with an unhandled 'error'.
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Drops open connections and stops listening (nothing to do when it is not listening). */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
