// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title Consent scope constants shared by the medledger modules
/// @dev Categories are bit positions of a uint64 mask; purposes follow HL7 PurposeOfUse.
library Scopes {
    uint8 internal constant CATEGORY_COUNT = 64;

    uint8 internal constant PURPOSE_TREAT = 0;
    uint8 internal constant PURPOSE_ETREAT = 1;
    uint8 internal constant PURPOSE_HPAYMT = 2;
    uint8 internal constant PURPOSE_HOPERAT = 3;
    uint8 internal constant PURPOSE_HRESCH = 4;
    uint8 internal constant PURPOSE_PUBHLTH = 5;
    uint8 internal constant PURPOSE_PATRQT = 6;
    uint8 internal constant PURPOSE_COUNT = 7;
    uint16 internal constant ALL_PURPOSES = uint16((1 << PURPOSE_COUNT) - 1);

    uint8 internal constant READ = 1;
    uint8 internal constant WRITE = 2;
    uint8 internal constant ALL_PERMISSIONS = READ | WRITE;

    /// @dev Codecs of the CIDs medledger stores: raw leaves and dag-pb roots.
    uint32 internal constant CODEC_RAW = 0x55;
    uint32 internal constant CODEC_DAG_PB = 0x70;
}
