// Must be imported before any @zone-eu/wildduck module: stops wild-config from reading config files.
process.env.DISABLE_WILD_CONFIG = 'true';
export {};
