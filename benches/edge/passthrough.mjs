// The edge bench's reference worker: forwards every request to the ORIGIN binding as it came
// (a new Request over the same URL, method, headers and body stream), and returns the
// origin's response. What any proxying worker pays before doing any work of its own.
export default {
  fetch(request, env) {
    return env.ORIGIN.fetch(new Request(request.url, request));
  },
};
