// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title Settlement token for devnets, demos and tests
/// @notice A plain OpenZeppelin ERC-20 whose deployer alone mints. Claims and studies settle in any
/// ERC-20 the insurer or researcher names; on a real network that is a stablecoin such as USDC, never
/// this contract. It ships so that `medledger demo` and a local devnet have money to move.
contract SettlementToken is ERC20 {
    /// @notice The account that deployed the token and alone may mint.
    address public immutable minter;
    uint8 private immutable _decimals;

    error NotMinter(address caller);

    constructor(string memory name_, string memory symbol_, uint8 decimals_) ERC20(name_, symbol_) {
        minter = msg.sender;
        _decimals = decimals_;
    }

    /// @notice Create `amount` (in the smallest unit) for `to`; only the minter.
    function mint(address to, uint256 amount) external {
        if (msg.sender != minter) revert NotMinter(msg.sender);
        _mint(to, amount);
    }

    /// @inheritdoc ERC20
    function decimals() public view override returns (uint8) {
        return _decimals;
    }
}
