// js-ipfs 0.66.1 (via its libp2p/it-* deps) calls Promise.withResolvers, which Node 20 lacks.
// Loaded with NODE_OPTIONS=--require <this file> before the daemon starts.
'use strict'
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve
    let reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
