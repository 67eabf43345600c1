// worker_threads running cadflow's .ts modules, shared by the training workers and the sampling pool.
import { Worker } from 'node:worker_threads';

/**
 * A worker_thread running a .ts module: registers tsx's loader inside the worker first (a plain
 * `execArgv: ['--import', 'tsx']` does not reach worker module loading on Node 20).
 */
export function spawnTsWorker(module: URL, workerData: unknown): Worker {
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(module.href)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

/** The worker's next message; rejects if it fails or exits first. */
export function nextMessage<T>(w: Worker): Promise<T> {
  return new Promise<T>((res, rej) => {
    const done = () => { w.off('message', onMsg); w.off('error', onErr); w.off('exit', onExit); };
    const onMsg = (m: T) => { done(); res(m); };
    const onErr = (e: Error) => { done(); rej(e); };
    const onExit = (code: number) => { done(); rej(new Error(`worker exited (code ${code})`)); };
    w.on('message', onMsg);
    w.on('error', onErr);
    w.on('exit', onExit);
  });
}
