/**
 * How a consumer group's request handling stops at a failed check (Kafka's ApiException thrown by the
 * group coordinator): the Kafka error code and the message the client gets. `fail` throws it deep in
 * a request's checks; the request's handler turns it into its answer, and lets anything else through.
 */
export class GroupRequestError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export const fail = (code: number, message: string): never => {
  throw new GroupRequestError(code, message);
};
