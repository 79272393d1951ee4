// The least any Worker costs on workerd: answer without doing anything.
export default {
  fetch() {
    return new Response('ok');
  },
};
