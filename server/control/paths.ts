// Where the local control channel of a data dir lives: a unix socket (a named pipe on Windows) in a directory
// only the server's user can enter, and the 0600 token file a client must present. The socket is
// <data>/control.sock when the data dir is private (0700, ours) and the path fits the unix socket limit;
// otherwise a private directory under $XDG_RUNTIME_DIR, else an unpredictable one the server creates in the
// temp dir, recorded in <data>/control.path (0600) so every CLI process finds it whatever its environment.
// Both sides check owner and mode: a socket another local user could have planted is never connected to.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../config/errors.js';

/** Linux allows 107 bytes in a socket path, macOS 103; keep a margin. */
const MAX_SOCKET_PATH = 100;
const SOCKET_NAME = 'control.sock';

type Env = Readonly<Record<string, string | undefined>>;

/** The control socket, its directory or the token file is not private to this user. */
export class ControlPermissionError extends UserError {
  constructor(message: string) {
    super(message, 'CONTROL_PERMISSIONS');
  }
}

/** Where a server put (or will put) its control socket. */
export interface ControlSocketLocation {
  readonly socket: string;
  /** The private directory holding the socket. */
  readonly dir: string;
  /** 'data-dir': <data>/control.sock; 'runtime': $XDG_RUNTIME_DIR/sealpost-<hash>/; 'private-tmp': a random 0700 dir in the temp dir. */
  readonly kind: 'data-dir' | 'runtime' | 'private-tmp' | 'pipe';
}

/** The token file: written 0600 by `serve` at start, removed at stop. */
export function controlTokenPath(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'control.token');
}

/** The pointer file naming a socket outside the data dir (written 0600 by `serve`, removed at stop). */
export function controlPointerPath(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'control.path');
}

function digestOf(dataDir: string): string {
  return createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 24);
}

function fits(socket: string): boolean {
  return Buffer.byteLength(socket) <= MAX_SOCKET_PATH;
}

function myUid(): number | null {
  return typeof process.getuid === 'function' ? process.getuid() : null;
}

/**
 * Why a path is not private to this user, or null when it is: it must be what `kind` says (a symlink is
 * not), owned by our uid, and give no permission to group or others.
 */
export function privacyProblem(file: string, kind: 'directory' | 'socket' | 'file'): string | null {
  const uid = myUid();
  if (uid === null) return null; // Windows: named pipes and ACLs, no uid
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(file);
  } catch (error) {
    return `cannot be checked (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  const isKind = kind === 'directory' ? stat.isDirectory() : kind === 'socket' ? stat.isSocket() : stat.isFile();
  if (!isKind) return stat.isSymbolicLink() ? 'is a symbolic link' : `is not a ${kind}`;
  if (stat.uid !== uid) return `belongs to uid ${stat.uid}, not to you (uid ${uid})`;
  if ((stat.mode & 0o077) !== 0) return `can be reached by other users (mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')})`;
  return null;
}

/** The sentence a CLI prints when something of the control channel is not private (what, why, what to do). */
function clientRefusal(what: string, file: string, problem: string): ControlPermissionError {
  return new ControlPermissionError(
    `Refusing to use the control ${what} ${file}: it ${problem}; run this command as the user running the server, and if that is you, stop the server, make the ${what} private (chmod 700 for a directory, 600 for a file) and start it again.`,
  );
}

/**
 * The socket a CLI should connect to, checked: null when no server left one behind. Throws
 * ControlPermissionError when the pointer, the socket or its directory is not private to this user.
 */
export function locateControlSocket(dataDir: string, platform: NodeJS.Platform = process.platform): ControlSocketLocation | null {
  const root = path.resolve(dataDir);
  if (platform === 'win32') return { socket: `\\\\.\\pipe\\sealpost-control-${digestOf(root)}`, dir: root, kind: 'pipe' };
  const pointer = controlPointerPath(root);
  let location: ControlSocketLocation;
  if (fs.existsSync(pointer)) {
    const problem = privacyProblem(pointer, 'file');
    if (problem) throw clientRefusal('pointer file', pointer, problem);
    const socket = fs.readFileSync(pointer, 'utf8').trim();
    if (!path.isAbsolute(socket) || path.basename(socket) !== SOCKET_NAME) throw new ControlPermissionError(`The control pointer file ${pointer} does not name a control socket; stop the server, delete the file and start the server again.`);
    location = { socket, dir: path.dirname(socket), kind: path.dirname(socket).startsWith(os.tmpdir()) ? 'private-tmp' : 'runtime' };
  } else {
    location = { socket: path.join(root, SOCKET_NAME), dir: root, kind: 'data-dir' };
  }
  if (!fs.existsSync(location.socket)) return null;
  const dirProblem = privacyProblem(location.dir, 'directory');
  if (dirProblem) throw clientRefusal('socket directory', location.dir, dirProblem);
  const socketProblem = privacyProblem(location.socket, 'socket');
  if (socketProblem) throw clientRefusal('socket', location.socket, socketProblem);
  return location;
}

/** Reads the token file after checking it is a regular file, ours, 0600 (a CLI never sends a token it did not verify). */
export function readControlToken(dataDir: string): string {
  const file = controlTokenPath(dataDir);
  const problem = privacyProblem(file, 'file');
  if (problem) throw clientRefusal('token file', file, problem);
  return fs.readFileSync(file, 'utf8').trim();
}

/**
 * For `serve`: picks the socket's private directory (creating it when needed) and records it in the pointer
 * file when it is not the data dir. Throws ControlPermissionError when the directory it must use is not
 * private (a runtime directory someone else made, or made group/world accessible).
 */
export function prepareControlSocket(dataDir: string, env: Env, platform: NodeJS.Platform = process.platform): ControlSocketLocation {
  const root = path.resolve(dataDir);
  if (platform === 'win32') return { socket: `\\\\.\\pipe\\sealpost-control-${digestOf(root)}`, dir: root, kind: 'pipe' };
  removeStaleElsewhere(root);
  const inDir = path.join(root, SOCKET_NAME);
  if (fits(inDir) && privacyProblem(root, 'directory') === null) {
    fs.rmSync(controlPointerPath(root), { force: true });
    return { socket: inDir, dir: root, kind: 'data-dir' };
  }
  const location = runtimeLocation(root, env) ?? privateTmpLocation();
  writePointer(controlPointerPath(root), location.socket);
  return location;
}

/** Removes what prepareControlSocket made outside the data dir (socket, its directory unless shared, pointer). */
export function releaseControlSocket(dataDir: string, location: ControlSocketLocation): void {
  if (location.kind === 'pipe') return;
  fs.rmSync(location.socket, { force: true });
  if (location.kind === 'data-dir') return;
  try {
    fs.rmdirSync(location.dir);
  } catch {}
  const pointer = controlPointerPath(dataDir);
  try {
    if (fs.readFileSync(pointer, 'utf8').trim() === location.socket) fs.rmSync(pointer, { force: true });
  } catch {}
}

function runtimeLocation(root: string, env: Env): ControlSocketLocation | null {
  const runtime = env.XDG_RUNTIME_DIR;
  // XDG: the runtime dir must be absolute, ours and 0700; otherwise it is ignored.
  if (!runtime || !path.isAbsolute(runtime) || privacyProblem(runtime, 'directory') !== null) return null;
  const dir = path.join(runtime, `sealpost-${digestOf(root)}`);
  const socket = path.join(dir, SOCKET_NAME);
  if (!fits(socket)) return null;
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const problem = privacyProblem(dir, 'directory');
  if (problem) throw new ControlPermissionError(`Refusing to put the control socket in ${dir}: it ${problem}; remove that directory (or make it yours with mode 700) and start the server again.`);
  fs.rmSync(socket, { force: true }); // stale: its server died
  return { socket, dir, kind: 'runtime' };
}

function privateTmpLocation(): ControlSocketLocation {
  for (const base of [os.tmpdir(), '/tmp']) {
    // 96 random bits: no other user can guess the name, and mkdir fails rather than reuse an existing one.
    const dir = path.join(base, `sealpost-${randomBytes(12).toString('hex')}`);
    const socket = path.join(dir, SOCKET_NAME);
    if (!fits(socket)) continue;
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.chmodSync(dir, 0o700); // mkdir's mode is filtered by the umask
    const problem = privacyProblem(dir, 'directory');
    if (problem) throw new ControlPermissionError(`Refusing to put the control socket in ${dir}: it ${problem}; check the temp directory ${base}.`);
    return { socket, dir, kind: 'private-tmp' };
  }
  throw new ControlPermissionError('No private directory for the control socket fits the unix socket path limit; use a shorter data dir path or set XDG_RUNTIME_DIR.');
}

/** A pointer left by a server that was killed: its socket and private directory go before a new one is made. */
function removeStaleElsewhere(root: string): void {
  const pointer = controlPointerPath(root);
  if (!fs.existsSync(pointer) || privacyProblem(pointer, 'file') !== null) return;
  const socket = fs.readFileSync(pointer, 'utf8').trim();
  if (!path.isAbsolute(socket) || path.basename(socket) !== SOCKET_NAME || privacyProblem(path.dirname(socket), 'directory') !== null) return;
  fs.rmSync(socket, { force: true });
  try {
    fs.rmdirSync(path.dirname(socket));
  } catch {}
}

function writePointer(file: string, socket: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${socket}\n`, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}
