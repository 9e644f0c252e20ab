// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title An ERC-20 that misbehaves on demand (tests only)
/// @notice Normal: a plain OpenZeppelin ERC-20. ReturnFalse: transfers return false and move nothing
/// (as some early tokens do). Revert: transfers revert. Reenter: a transfer out of `target` first
/// calls `target` back with `reentry` (a reentrancy attempt; its revert is recorded, not bubbled).
/// Fee: transfers deliver 1% less than asked (a fee-on-transfer token).
contract MockMisbehavingERC20 is ERC20 {
    enum Mode {
        Normal,
        ReturnFalse,
        Revert,
        Reenter,
        Fee
    }

    Mode public mode;
    address public target;
    bytes public reentry;
    bool public reentered;
    bytes public reentryError;

    error TransfersDisabled();

    constructor() ERC20("Misbehaving USD", "MUSD") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setMode(Mode mode_) external {
        mode = mode_;
    }

    function setReentry(address target_, bytes calldata reentry_) external {
        target = target_;
        reentry = reentry_;
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        if (mode == Mode.Reenter && msg.sender == target) _reenter();
        return _move(msg.sender, to, value);
    }

    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        if (mode == Mode.ReturnFalse) return false;
        if (mode == Mode.Revert) revert TransfersDisabled();
        if (mode == Mode.Reenter && msg.sender == target) _reenter();
        _spendAllowance(from, msg.sender, value);
        return _move(from, to, value);
    }

    function _move(address from, address to, uint256 value) private returns (bool) {
        if (mode == Mode.ReturnFalse) return false;
        if (mode == Mode.Revert) revert TransfersDisabled();
        if (mode == Mode.Fee) {
            uint256 fee = value / 100;
            _burn(from, fee);
            value -= fee;
        }
        _transfer(from, to, value);
        return true;
    }

    function _reenter() private {
        (bool ok, bytes memory data) = target.call(reentry);
        reentered = ok;
        reentryError = data;
    }
}
