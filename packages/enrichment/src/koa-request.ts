declare module 'koa' {
  interface Request {
    /**
     * The exact bytes of the request body, read once by `errorEnrichment` (empty when the request
     * has none). Absent when a body parser ran first and kept no raw copy.
     */
    bodyBytes?: Buffer;
  }
}

export {};
