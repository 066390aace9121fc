/** The channel workers LISTEN on; the payload is the task's run_at in epoch milliseconds. */
export const CHANNEL = 'imgkit_tasks';
