// The smallest Worker that streams a large upstream response: no gateway code at all.
export default {
  async fetch(request, env) {
    return fetch(env.UPSTREAM);
  },
};
