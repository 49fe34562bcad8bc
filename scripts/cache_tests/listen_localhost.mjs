// Preloaded (node --import) into the cache-tests origin server, whose
// server.listen(port) takes every interface: it binds to 127.0.0.1 instead.
import http from "node:http";

const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (port, ...rest) {
  if (typeof port === "number" || typeof port === "string") {
    return listen.call(this, Number(port), "127.0.0.1", ...rest);
  }
  return listen.call(this, port, ...rest);
};
