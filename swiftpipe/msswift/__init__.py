"""What swiftpipe knows of ms-swift, in one folder: its flag spellings per major (dialects), its argument classes
(arguments), its output layout and log lines (layout), the 2.x spellings (v2) and the flags retired since (retired).
A new ms-swift release is a change here; everything else asks these modules. The bottom of the layers: it imports
nothing of swiftpipe's above it."""
