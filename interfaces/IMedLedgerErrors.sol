// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Errors shared by every medledger module
interface IMedLedgerErrors {
    error ZeroAddress();
    error InvalidCategory(uint256 category);
}
