// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IKeyDirectory} from "../interfaces/IKeyDirectory.sol";

/// @title Key directory module
/// @notice Anyone may publish their own key; no one may publish another's.
abstract contract KeyDirectory is IKeyDirectory {
    mapping(address account => bytes32) private _encryptionKeys;

    /// @inheritdoc IKeyDirectory
    function setEncryptionKey(bytes32 publicKey) external {
        if (publicKey == bytes32(0)) revert InvalidPublicKey();
        _encryptionKeys[msg.sender] = publicKey;
        emit EncryptionKeySet(msg.sender, publicKey);
    }

    /// @inheritdoc IKeyDirectory
    function encryptionKeyOf(address account) external view returns (bytes32) {
        return _encryptionKeys[account];
    }
}
