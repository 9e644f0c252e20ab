// The reference implementation for the cross-check: @openzeppelin/merkle-tree's StandardMerkleTree.
// stdin: {"encoding": [...types], "values": [[...], ...], "sortLeaves": bool}
// stdout: {"root": "0x..", "proofs": [[...] per value, in the values' order], "verified": bool}
const { StandardMerkleTree } = require('@openzeppelin/merkle-tree');

let input = '';
process.stdin.on('data', chunk => { input += chunk; });
process.stdin.on('end', () => {
  const { encoding, values, sortLeaves } = JSON.parse(input);
  const tree = StandardMerkleTree.of(values, encoding, { sortLeaves });
  const proofs = values.map((_, i) => tree.getProof(i));
  const verified = values.every((value, i) => StandardMerkleTree.verify(tree.root, encoding, value, proofs[i]));
  process.stdout.write(JSON.stringify({ root: tree.root, proofs, verified }));
});
