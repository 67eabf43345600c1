// Errors a node throws to say precisely what is wrong. The engine reports them with the node id.

/** A parameter value that passed its schema but is wrong for this input (names the param). */
export class NodeParamError extends Error {
  constructor(public readonly param: string, message: string) {
    super(message);
    this.name = 'NodeParamError';
  }
}

/** An input value that is unusable (wrong shape, empty batch, incompatible model, ...). */
export class NodeInputError extends Error {
  constructor(public readonly input: string, message: string) {
    super(message);
    this.name = 'NodeInputError';
  }
}

/** Thrown by ctx.throwIfAborted() when a run is cancelled. */
export class CancelledError extends Error {
  constructor(message = 'cancelled') {
    super(message);
    this.name = 'CancelledError';
  }
}
