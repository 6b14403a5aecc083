"""TLS in a capture: what the handshake shows without keys (`hello`), the NSS key log
(`keylog`), and decryption of a connection whose secrets it holds (`decrypt`)."""
