"""The local stack: arrears on the embedded AWS emulator (moto), driven by a simulated clock."""
