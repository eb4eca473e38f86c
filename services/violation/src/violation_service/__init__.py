"""The violation service: Camera-recorded violations, penalty decisions and fine payments."""
