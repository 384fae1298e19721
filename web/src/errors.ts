// Errors a person may see. The message is English (logs, tests); the UI
// shows the dictionary's text for `key` (i18n key `err_<key>`) instead.
export class AppError extends Error {
  constructor(
    readonly key: AppErrorKey,
    message: string,
    readonly vars: Record<string, string | number> = {},
  ) {
    super(message);
  }
}

export type AppErrorKey =
  | 'no_keys'
  | 'no_storage'
  | 'file_too_large'
  | 'file_damaged'
  | 'server_mismatch'
  | 'coordinator_mismatch'
  | 'epoch_disagree';
