// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title Errors shared by every medledger module
interface IMedLedgerErrors {
    error ZeroAddress();
    error InvalidCategory(uint256 category);
}
