// server/control: the local control channel between `serve` and CLI commands on the same data dir.
export { createControlService, toWireError, type WireError } from './service.js';
export { callServer, pingServer, runControlOp, ControlError } from './client.js';
export { ControlPermissionError, controlPointerPath, controlTokenPath, locateControlSocket, prepareControlSocket, privacyProblem, releaseControlSocket, type ControlSocketLocation } from './paths.js';
export { runOp, parseArgs, type OpMap, type OpName, type OpArgs, type OpResult, type OpProgress, type RestoreOutcome, type BackupNowRow } from './ops.js';
export { rememberKeys, forgetRemembered, unlockRemembered, rememberSecretName } from '../accounts/remember.js';
