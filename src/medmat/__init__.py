"""medmat."""
