/** What a directory entry is. */
export type FileKind = "file" | "directory" | "symlink" | "other";

/** Facts about one file; `modified` is seconds since the Unix epoch (UTC). */
export interface FileFacts { kind: FileKind; size: number; modified?: number | null; mode: number }

/** One directory entry for `Session.formatListing`: name as stored (bytes) or UTF-8 text;
 *  `linkTarget` for a symbolic link (what it points to, as stored), with `facts` of its target
 *  when the storage follows it or kind `symlink` when it does not. */
export interface DirEntry { name: Uint8Array | string; facts: FileFacts; linkTarget?: Uint8Array | string | null }

/** Storage errors by ftpwire's names (the reply they get: 550, 553 invalidName, 452 storageFull,
 *  502 unsupported, 451 local). */
export type FileErrorName =
  | "notFound" | "permissionDenied" | "notADirectory" | "isADirectory" | "alreadyExists"
  | "directoryNotEmpty" | "invalidName" | "storageFull" | "unsupported" | "local";

/** A storage error: ftpwire's name, or a Node.js errno code such as `"ENOENT"` (`error.code`). */
export type FileErrorCode = FileErrorName | `E${string}`;

/** Why a transfer did not complete. */
export type TransferErrorCode = "noDataConnection" | "connectionLost" | "aborted" | FileErrorCode;

/** Why no passive listener could be opened. */
export type PassiveErrorCode = "noFreePort" | "unresolved";

/** Which transfer command runs: RETR, STOR, APPE, STOU, LIST, NLST, MLSD. */
export type TransferKind =
  | "retrieve" | "store" | "append" | "storeUnique" | "list" | "nameList" | "machineList";

/** Where a transfer's data connection comes from. */
export type DataEndpoint =
  /** Accept on this session's passive listener, only from the IP `peer`. */
  | { mode: "passive"; peer: string }
  /** Connect to `address`:`port` (PORT/EPRT, already checked against bounce attacks). */
  | { mode: "active"; address: string; port: number };

/** Write these bytes to the control connection, in order, before anything later. */
export interface TransmitOutput { type: "transmit"; data: Uint8Array }
/** Nothing to do until input arrives, an answer is given, or `at` (host ms) passes. */
export interface TimeoutOutput { type: "timeout"; at: number }
/** The session is over: close the control connection after writing everything. */
export interface ClosedOutput { type: "closed" }

/** Check USER/PASS; answer with `answer(id, "login", {accepted, readOnly})`. */
export interface LoginEvent { type: "login"; id: number; user: Uint8Array; password: Uint8Array }
/** Open a passive listener on `bind` (replacing any earlier one); resolve `resolve` if set.
 *  Answer with `answer(id, "passiveOpened", {port, resolved?})` or `answer(id, "passiveFailed", code)`. */
export interface OpenPassiveEvent { type: "openPassive"; id: number; bind: string; resolve: string | null }
/** Drop the passive listener. */
export interface ClosePassiveEvent { type: "closePassive" }
/** Look up a path's facts; answer with `answer(id, "statDone", facts)` or `answer(id, "statFailed", code)`. */
export interface StatEvent { type: "stat"; id: number; path: Uint8Array }
/** CWD/CDUP: answer `answer(id, "directoryEntered")` if the server may enter `path` (like chdir(2)), else `answer(id, "enterDirectoryFailed", code)`. */
export interface EnterDirectoryEvent { type: "enterDirectory"; id: number; path: Uint8Array }
/** Change the filesystem; answer with `answer(id, "changeDone")` or `answer(id, "changeFailed", code)`. */
export type FileChangeEvent = { type: "fileChange"; id: number } & (
  | { change: "makeDirectory" | "removeDirectory" | "delete"; path: Uint8Array }
  | { change: "rename"; from: Uint8Array; to: Uint8Array }
  /** MFMT: set the modification time to `modified` (seconds since the Unix epoch, UTC). */
  | { change: "setModified"; path: Uint8Array; modified: number }
  /** SITE CHMOD: set the permission bits (never above 0o777). */
  | { change: "setPermissions"; path: Uint8Array; mode: number });
/** A data transfer begins: open the storage its `plan` names (`read` from `offset`; `write` in
 *  `mode` truncate/at/append; `createUnique` in the directory `path`; `list` the directory or
 *  file `path`), then `answer(id, "storageOpened", {size?, uniqueName?}, nowMs)` (RETR: the file's size; STOU: the
 *  new name) or `answer(id, "transferFailed", code, nowMs)`. Later steps name the same `id`. `ascii`: convert
 *  with AsciiEncoder/AsciiDecoder. Paths are normalized, absolute, never above `/`.
 *  Listings: read the whole directory, sort it by name bytewise (`Buffer.compare`), then hand
 *  it to `formatListing` in batches; the module leaves out the dot files it must not show. */
export type TransferEvent = { type: "transfer"; id: number; kind: TransferKind; ascii: boolean; path: Uint8Array } & (
  | { plan: "read"; offset: number }
  | { plan: "write"; mode: "truncate" | "at" | "append"; offset: number }
  | { plan: "createUnique" }
  | { plan: "list"; readOnly: boolean; dotFiles: boolean });
/** Accept (passive) or dial (active) the data connection, then `answer(id, "dataConnected", undefined, nowMs)` (the 150 goes
 *  out) or `answer(id, "transferFailed", code, nowMs)`. `protected`: PROT P (a passive connection may be secured
 *  on arrival, for clients that start TLS before the command). */
export interface ConnectDataEvent { type: "connectData"; id: number; data: DataEndpoint; protected: boolean }
/** The 150 is out: run the TLS server handshake on the data connection, then
 *  `answer(id, "dataSecured", resumed, nowMs)` (whether it resumed the control connection's session) or
 *  `answer(id, "transferFailed", "tlsFailed", nowMs)`. */
export interface SecureDataEvent { type: "secureData"; id: number }
/** Move the bytes; report `answer(id, "dataProgress", bytes, nowMs)` (before a deadline, at least), then
 *  `answer(id, "dataMoved", bytes, nowMs)` (RETR: bytes read from the file) or `answer(id, "transferFailed", code, nowMs)`. */
export interface MoveDataEvent { type: "moveData"; id: number }
/** Close the data connection in order (close_notify, FIN), then `answer(id, "dataClosed", undefined, nowMs)`: the core sends 226. */
export interface CloseDataEvent { type: "closeData"; id: number }
/** The core ended transfer `id` (ABOR, a deadline, a refused TLS session, the connection
 *  closing): drop its file and data connection; answer nothing more for it. */
export interface AbortTransferEvent { type: "abortTransfer"; id: number | null }
/** AUTH TLS accepted (its 234 was transmitted before): flush, run the TLS handshake as
 *  server on the control connection, then `answer(id, "tlsEstablished")`; on failure close. */
export interface UpgradeTlsEvent { type: "upgradeTls"; id: number }
/** CCC accepted: flush, send TLS close_notify, carry on in plain text. */
export interface DowngradeTlsEvent { type: "downgradeTls" }
/** Worth an operator's attention: log `message`. Needs no answer. */
export type NoticeEvent = { type: "notice"; message: string } & (
  | { notice: "loginSucceeded" | "loginFailed"; user: string }
  | { notice: "portRefused"; address: string; reason: string }
  | { notice: "readOnlyRefused"; user: string; command: string }
  | { notice: "passiveFallback"; verb: "PORT" | "EPRT" }
  | { notice: "privatePassiveAddress"; advertised: string; peer: string }
  | { notice: "transferEnded"; kind: TransferKind; path: Uint8Array; bytes: number; error: string | null }
  | { notice: "foreignAnswer" | "staleAnswer" | "hostAnswerTimeout" | "wrongAnswer"; answer: string }
  | { notice: "tooManyLoginFailures" | "lineTooLong" | "idleTimeout" | "loginTimeout" | "tlsRequired" | "inputLimit" });

/** Everything a session asks of its host. */
export type SessionEvent =
  | LoginEvent | OpenPassiveEvent | ClosePassiveEvent | StatEvent | EnterDirectoryEvent | FileChangeEvent
  | TransferEvent | ConnectDataEvent | SecureDataEvent | MoveDataEvent | CloseDataEvent
  | AbortTransferEvent | UpgradeTlsEvent | DowngradeTlsEvent | NoticeEvent;

/** One result of `Session.pollOutput()`. */
export type SessionOutput = TransmitOutput | TimeoutOutput | ClosedOutput | SessionEvent;

/** The answers `Session.answer(id, answer, value, nowMs)` takes: the name of the answer to
 *  the event (or transfer step) `id` (see the method's table for each one's `value`). */
export type AnswerName =
  | "login" | "passiveOpened" | "passiveFailed" | "statDone" | "statFailed"
  | "directoryEntered" | "enterDirectoryFailed" | "changeDone" | "changeFailed" | "tlsEstablished"
  | "storageOpened" | "dataConnected" | "dataSecured" | "dataProgress" | "dataMoved" | "dataClosed"
  | "transferFailed";

/** The settings `ServerConfig.set(name, value)` takes (see the method's table). */
export type ServerSetting =
  | "greeting" | "lineLimit" | "idleTimeoutMs" | "loginTimeoutMs" | "dataConnectionTimeoutMs"
  | "dataStallTimeoutMs" | "failedLoginDelayMs" | "maxLoginFailures" | "tls" | "requireTls"
  | "requireTlsSessionReuse" | "showDotFiles" | "shareDotFiles" | "implicitTlsProtP" | "allowCcc"
  | "passiveAddress" | "tlsPassiveAddress" | "passivePortMap";
