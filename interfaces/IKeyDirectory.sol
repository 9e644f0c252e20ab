// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title Key directory of medledger
/// @notice Public encryption keys: each account's X25519 key, and each patient's category
/// keyrings (the key that record data keys are sealed to, rotated on revocation).
/// Only public keys and sealed (encrypted) key material ever reach the chain.
interface IKeyDirectory is IMedLedgerErrors {
    event EncryptionKeySet(address indexed account, bytes32 publicKey);

    /// @notice A patient's keyring for `category` moved to `epoch`. `envelope` carries the new
    /// keyring secret sealed to the patient and to each remaining grantee (opaque to the chain).
    event KeyringRotated(
        address indexed patient, uint8 indexed category, uint32 epoch, bytes32 publicKey, bytes envelope
    );

    error InvalidPublicKey();

    /// @notice Publishes or rotates the caller's X25519 public key.
    function setEncryptionKey(bytes32 publicKey) external;

    /// @notice Starts a new epoch of the caller's keyring for `category`.
    /// @param envelope the new secret sealed to the patient and remaining grantees.
    function rotateKeyring(uint8 category, bytes32 publicKey, bytes calldata envelope) external;

    /// @notice `rotateKeyring` on behalf of `patient`, by one of the patient's guardians.
    function rotateKeyringFor(address patient, uint8 category, bytes32 publicKey, bytes calldata envelope) external;

    /// @notice The X25519 public key of `account`, zero if none was published.
    function encryptionKeyOf(address account) external view returns (bytes32);

    /// @notice The current keyring of `patient` for `category`: its public key and epoch
    /// (zero key and epoch 0 when the patient has not created one).
    function keyringOf(address patient, uint8 category) external view returns (bytes32 publicKey, uint32 epoch);
}
